"""The read-reply loop of `tfzoo predict RUN -` (or `--set interactive=true`) over standard input.

It reads one line at a time, so it works typed or piped (`printf '你好\n:quit\n' | tfzoo predict RUN -`):

- a line of text is a prompt: the reply is printed on one line (marked " [truncated]" when the model
  reached its length limit before its end token);
- `:reset` clears the history, `:temp T` samples at temperature T (0: greedy), `:beam N` decodes with
  a beam of width N (1: greedy), `:quit` or the end of input ends the loop;
- characters or words the model does not know are named in one `notice:` line on stderr.

A `Session` is what a task plugs in: `reply(text) -> Reply` and the decoding settings.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Protocol, TextIO


@dataclass
class Reply:
    """One answer of a session: its text, the unknown tokens of the prompt, whether it was cut off."""

    text: str
    unknown: list[str] = field(default_factory=list)
    truncated: bool = False


class Session(Protocol):
    """What the loop drives: a stateful generator with decoding settings."""

    method: str  # "greedy" | "sample" | "beam"
    temperature: float
    beam: int

    def reply(self, text: str) -> Reply: ...

    def reset(self) -> None: ...


def _command(session: Session, line: str, err: TextIO) -> bool:
    """Apply a `:command`; returns False for `:quit`."""
    name, _, value = line[1:].strip().partition(" ")
    try:
        if name == "quit":
            return False
        if name == "reset":
            session.reset()
            print("notice: history cleared", file=err)
        elif name == "temp":
            temperature = float(value)
            if temperature < 0:  # checked before it is set: a bad value leaves the session as it was
                raise ValueError(value)
            session.temperature = temperature
            session.method = "sample" if session.temperature > 0 else "greedy"
            print(f"notice: {session.method}, temperature {session.temperature:g}", file=err)
        elif name == "beam":
            beam = int(value)
            if beam < 1:
                raise ValueError(value)
            session.beam = beam
            session.method = "beam" if session.beam > 1 else "greedy"
            print(f"notice: {session.method}, beam width {session.beam}", file=err)
        else:
            print(f"notice: unknown command :{name}; commands are :reset, :temp T, :beam N, :quit", file=err)
    except ValueError:
        print(f"notice: :{name} {value!r}: expected :temp T (T >= 0) or :beam N (N >= 1)", file=err)
    return True


def loop(session: Session, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None, prompt: str = "") -> int:
    """Run the loop until `:quit` or the end of input; returns the number of replies."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    replies = 0
    interactive = getattr(stdin, "isatty", lambda: False)()
    while True:
        if interactive and prompt:
            print(prompt, end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if line.startswith(":"):
            if not _command(session, line, stderr):
                break
            continue
        reply = session.reply(line)
        if reply.unknown:
            print(f"notice: unknown {', '.join(reply.unknown)} (read as _UNK)", file=stderr)
        print(reply.text + (" [truncated]" if reply.truncated else ""), file=stdout, flush=True)
        replies += 1
    return replies
