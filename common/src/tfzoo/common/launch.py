"""`--local-cluster workers=N[,ps=M]`: run a distributed job as processes on loopback.

Every process gets its own TF_CONFIG; output lines are prefixed with the role.
Multi-worker runs N copies of the same `tfzoo train`; parameter-server runs M
`ps` and N `worker` servers plus a chief that drives the loop. Servers never
exit on their own, so the launcher stops them by PID when the chief is done.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading

from tfzoo.common.errors import ConfigError


def parse_cluster(text: str) -> dict[str, int]:
    """Parse "workers=2,ps=1" into {"workers": 2, "ps": 1}."""
    out = {"workers": 2, "ps": 0}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        if key not in out or not value.isdigit():
            raise ConfigError(f"--local-cluster expects workers=N[,ps=M], got {text!r}")
        out[key] = int(value)
    if out["workers"] < 1:
        raise ConfigError("--local-cluster needs at least one worker")
    return out


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _relay(role: str, stream) -> None:
    for line in iter(stream.readline, ""):
        sys.stdout.write(f"[{role}] {line}")
        sys.stdout.flush()


def _spawn(role: str, argv: list[str], tf_config: dict) -> subprocess.Popen:
    env = dict(os.environ, TF_CONFIG=json.dumps(tf_config))
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    threading.Thread(target=_relay, args=(role, proc.stdout), daemon=True).start()
    return proc


def run_local_cluster(train_argv: list[str], *, workers: int, ps: int) -> int:
    """Run `tfzoo <train_argv>` on a loopback cluster; returns the worst exit code."""
    tfzoo = [sys.executable, "-m", "tfzoo.common.cli"]
    if ps == 0:
        ports = _free_ports(workers)
        cluster = {"worker": [f"localhost:{p}" for p in ports]}
        procs = [
            _spawn(f"worker{i}", tfzoo + train_argv + ["--strategy", "multi-worker"],
                   {"cluster": cluster, "task": {"type": "worker", "index": i}})
            for i in range(workers)
        ]
        codes = [p.wait() for p in procs]
        return max(codes, key=abs)
    ports = _free_ports(workers + ps + 1)
    cluster = {
        "chief": [f"localhost:{ports[0]}"],
        "worker": [f"localhost:{p}" for p in ports[1 : workers + 1]],
        "ps": [f"localhost:{p}" for p in ports[workers + 1 :]],
    }
    serve = [sys.executable, "-m", "tfzoo.common.distribute"]
    servers = [
        _spawn(f"{kind}{i}", serve, {"cluster": cluster, "task": {"type": kind, "index": i}})
        for kind, count in (("ps", ps), ("worker", workers))
        for i in range(count)
    ]
    try:
        chief = _spawn("chief", tfzoo + train_argv + ["--strategy", "parameter-server"],
                       {"cluster": cluster, "task": {"type": "chief", "index": 0}})
        return chief.wait()
    finally:
        for proc in servers:
            proc.kill()
            proc.wait()
