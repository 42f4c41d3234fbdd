"""cache_dir: $TFZOO_CACHE, else $XDG_CACHE_HOME/tfzoo, else ~/.cache/tfzoo; created on demand."""

from pathlib import Path

from tfzoo.common.cache import cache_dir


def test_tfzoo_cache_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("TFZOO_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = cache_dir("eval", "mnist")
    assert path == tmp_path / "mine" / "eval" / "mnist" and path.is_dir()
    assert not (tmp_path / "xdg").exists()


def test_xdg_cache_home_then_home(tmp_path, monkeypatch):
    monkeypatch.delenv("TFZOO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("eval") == tmp_path / "xdg" / "tfzoo" / "eval"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty counts as unset
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = cache_dir()
    assert path == tmp_path / "home" / ".cache" / "tfzoo" and path.is_dir()


def test_relative_to_nothing_but_the_environment(tmp_path, monkeypatch):
    # The old evaluation cache was runs/_eval under whatever folder the command ran in.
    monkeypatch.setenv("TFZOO_CACHE", str(tmp_path / "c"))
    monkeypatch.chdir(tmp_path)
    first = cache_dir("eval")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert cache_dir("eval") == first and first.is_absolute()
    assert Path(first).parent == tmp_path / "c"
