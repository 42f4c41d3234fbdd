"""Config overrides: dotted and short keys, types, TOML, JSON round trip, errors."""

from dataclasses import dataclass, field

import pytest

from tfzoo.common import config as cfg
from tfzoo.common.errors import ConfigError
from tfzoo.common.optim import OptimConfig
from tfzoo.common.train import TrainConfig


@dataclass(frozen=True)
class Example:
    model: str = "cnn"
    sizes: tuple[int, ...] = (8, 8)
    flip: bool = False
    crop: tuple[int, int] = (0, 0)
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


def test_dotted_and_unique_short_keys():
    config = cfg.override(Example(), {"train.steps": "12", "lr": "0.5", "flip": "true", "sizes": "4,5,6"})
    assert config.train.steps == 12
    assert config.optim.lr == 0.5
    assert config.flip is True
    assert config.sizes == (4, 5, 6)
    assert Example().train.steps == 2000, "the default must stay untouched (frozen)"


def test_unknown_key_suggests_close_ones():
    with pytest.raises(ConfigError, match="unknown config key 'stpes'.*train.steps"):
        cfg.override(Example(), {"stpes": "3"})


def test_wrong_type_names_key_and_type():
    with pytest.raises(ConfigError, match="'train.batch_size': expected int, got 'many'"):
        cfg.override(Example(), {"batch_size": "many"})
    with pytest.raises(ConfigError, match="expected bool"):
        cfg.override(Example(), {"flip": "maybe"})


def test_set_parsing_rejects_missing_equals():
    assert cfg.parse_sets(["a=1", "b.c = x"]) == {"a": "1", "b.c": "x"}
    with pytest.raises(ConfigError, match="key=value"):
        cfg.parse_sets(["steps"])


def test_toml_and_json_round_trip(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('model = "mlp"\ncrop = [24, 24]\n[train]\nsteps = 7\n[optim]\noptimizer = "sgd"\n')
    config = cfg.override(Example(), cfg.load_toml(toml))
    assert (config.model, config.crop, config.train.steps, config.optim.optimizer) == ("mlp", (24, 24), 7, "sgd")
    cfg.save_json(config, tmp_path / "config.json")
    assert cfg.load_json(Example, tmp_path / "config.json") == config
    assert cfg.changed_keys(Example(), config) == ["crop", "model", "optim.optimizer", "train.steps"]


def test_bad_toml_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = = 3\n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        cfg.load_toml(bad)
