"""BENCHMARKS.md sections: a domain rewrites its own blocks and leaves everything else alone."""

from tfzoo.common.bench import write_section


def test_write_section_keeps_other_blocks_and_domains(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    write_section(path, "vision", {"a": "vision A\n", "b": "vision B\n"}, ("a", "b"))
    write_section(path, "timeseries", {"x": "ts X\n"}, ("x",))
    write_section(path, "vision", {"b": "vision B2\n"}, ("a", "b"))
    text = path.read_text()
    assert "vision A" in text and "vision B2" in text and "vision B\n" not in text
    assert "ts X" in text and text.count("## vision") == 1 and text.count("## timeseries") == 1
    assert text.index("<!-- vision:a:start -->") < text.index("<!-- vision:b:start -->")
