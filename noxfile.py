"""Sessions: lint, one test session per domain, demo, bench-<domain>.

`nox` alone runs lint plus every domain's tests; that is what CI runs.
"""

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
# uv skips bytecode by default, which doubles `import tensorflow` time.
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).parent
DOMAINS = [d for d in ("vision", "speech", "nlp", "timeseries", "generative") if (ROOT / d / "pyproject.toml").exists()]
nox.options.sessions = ["lint", "common", *DOMAINS]


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def common(session: nox.Session) -> None:
    session.install("./common[test]")
    session.run("pytest", "common/tests", "-q", *session.posargs)


def _domain_tests(domain: str):
    def run(session: nox.Session) -> None:
        session.install("./common[test]", f"./{domain}[test]")
        session.run("pytest", f"{domain}/tests", "-q", *session.posargs)

    run.__doc__ = f"Install tfzoo-common and tfzoo-{domain}, run {domain}/tests."
    return run


def _domain_bench(domain: str):
    def run(session: nox.Session) -> None:
        session.install("./common[test]", f"./{domain}[test,bench]")
        session.run("python", f"{domain}/benchmarks/run.py", *session.posargs)

    run.__doc__ = f"Run {domain}/benchmarks and write its rows into BENCHMARKS.md."
    return run


for _domain in DOMAINS:
    nox.session(name=_domain)(_domain_tests(_domain))
    nox.session(name=f"bench-{_domain}")(_domain_bench(_domain))


@nox.session(name="bench-common")
def bench_common(session: nox.Session) -> None:
    """Run common/benchmarks (the Reliability block: every installed package's fault cases)."""
    session.install("./common[test]", *[f"./{d}[test]" for d in DOMAINS])
    session.run("python", "common/benchmarks/run.py", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    session.install("./common", *[f"./{d}" for d in DOMAINS])
    session.run("tfzoo", "demo", *session.posargs)
