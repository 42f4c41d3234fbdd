"""Shared fixtures of the generative tests."""

import pytest


@pytest.fixture(scope="session")
def eval_root(tmp_path_factory) -> str:
    """One cache of one-epoch domain classifiers for the whole session (conformance and task tests share it)."""
    return str(tmp_path_factory.mktemp("eval"))
