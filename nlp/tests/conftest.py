"""Shared fixtures of the nlp tests: small text files in the formats the readers take."""

import pytest

POEMS = ["床前明月光，疑是地上霜。", "举头望明月，低头思故乡。", "白日依山尽，黄河入海流。", "欲穷千里目，更上一层楼。",
         "春眠不觉晓，处处闻啼鸟。", "夜来风雨声，花落知多少。"]


@pytest.fixture(scope="session")
def gbk_poems(tmp_path_factory):
    """A GBK text of 60 lines (the books' files were GBK): enough for every split of a tiny run."""
    path = tmp_path_factory.mktemp("text") / "poems.txt"
    path.write_bytes("\n".join(POEMS * 10).encode("gbk"))
    return path
