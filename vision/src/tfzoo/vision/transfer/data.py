"""Input pipeline of vision.transfer: common's specs at 3 channels, sized for the backbone.

Images go through vision.classify's `prepare` (uint8 of any size -> float32 [0, 1] at the model's
input size, grey repeated to RGB) in training, evaluation, predict and the exported SavedModel.
"""

from __future__ import annotations

from typing import Any

from tfzoo.common.data import DataSplit, resolve
from tfzoo.common.errors import ConfigError

from .model import backbone_spec

# Used when a folder of mixed-size images gives no common shape and no image_size is set.
FALLBACK_SIZE = 96


# The training subset of `train_fraction` depends on this seed only, never on the run's seed.
SUBSET_SEED = 20_512


def load_split(config: Any, split: str) -> DataSplit:
    """One split of `config.data_spec` with RGB images (grey sources repeated to 3 channels).

    With `train_fraction < 1` the training split is a fixed random subset of that share, the
    same for every run on the same data, so few-label runs compare on the same examples.
    """
    data = resolve(config.data_spec, split, seed=config.train.seed, channels=3)
    if split != "train" or config.train_fraction >= 1.0:
        return data
    if not 0.0 < config.train_fraction:
        raise ConfigError(f"train_fraction={config.train_fraction}; expected 0 < train_fraction <= 1")
    count = max(1, round(data.size * config.train_fraction))
    subset = data.dataset.shuffle(data.size, seed=SUBSET_SEED, reshuffle_each_iteration=False).take(count).cache()
    return data.replace(dataset=subset, size=count)


def input_size(config: Any, data: DataSplit) -> int:
    """The square input size: `image_size`, or the data's own size raised to the backbone's minimum."""
    minimum = backbone_spec(config.backbone).min_size
    if config.image_size:
        if config.image_size < minimum:
            raise ConfigError(f"image_size={config.image_size} is below {config.backbone}'s minimum of {minimum} px "
                              f"(32 for most backbones, 75 for the Inception family)")
        return int(config.image_size)
    own = max(data.image_shape[:2]) if data.image_shape else FALLBACK_SIZE
    return max(int(own), minimum)
