"""`--local-cluster workers=N[,ps=M]`: run a distributed job as processes on loopback.

Every process gets its own TF_CONFIG; output lines are prefixed with the role.
Multi-worker runs N copies of the same `tfzoo train`; parameter-server runs M
`ps` and N `worker` servers plus a chief that drives the loop. Servers never
exit on their own, so the launcher stops them by PID when the chief is done.
When a trainer fails, or the launcher gets SIGINT or SIGTERM, the trainers
still running get SIGTERM (they save a checkpoint and exit) and the servers
are killed, so no process outlives the launcher.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

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
    proc.relay = threading.Thread(target=_relay, args=(role, proc.stdout), daemon=True)
    proc.relay.start()
    return proc


def _wait_all(procs: list[subprocess.Popen], servers: list[subprocess.Popen] = ()) -> int:
    """Wait until every process exited, one failed or a server died (the rest would block); the worst code."""
    while any(p.poll() is None for p in procs) and not any(p.returncode for p in procs):
        if any(s.poll() is not None for s in servers):
            return 1
        time.sleep(0.2)
    codes = [p.returncode or 0 for p in procs]
    return max(codes, key=abs)


def _stop(trainers: list[subprocess.Popen], servers: list[subprocess.Popen], grace: float = 30.0) -> None:
    """SIGTERM the trainers still running (they checkpoint and exit), kill the servers, flush the logs."""
    for proc in trainers:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace
    for proc in trainers:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for proc in servers:
        proc.kill()
        proc.wait()
    for proc in trainers + servers:
        proc.relay.join(timeout=5)


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run_local_cluster(train_argv: list[str], *, workers: int, ps: int) -> int:
    """Run `tfzoo <train_argv>` on a loopback cluster; returns the worst exit code."""
    tfzoo = [sys.executable, "-m", "tfzoo.common.cli"]
    trainers: list[subprocess.Popen] = []
    servers: list[subprocess.Popen] = []
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        if ps == 0:
            ports = _free_ports(workers)
            cluster = {"worker": [f"localhost:{p}" for p in ports]}
            trainers = [
                _spawn(f"worker{i}", tfzoo + train_argv + ["--strategy", "multi-worker"],
                       {"cluster": cluster, "task": {"type": "worker", "index": i}})
                for i in range(workers)
            ]
            return _wait_all(trainers)
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
        trainers = [
            _spawn("chief", tfzoo + train_argv + ["--strategy", "parameter-server"],
                   {"cluster": cluster, "task": {"type": "chief", "index": 0}})
        ]
        return _wait_all(trainers, servers)
    finally:
        _stop(trainers, servers)
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
