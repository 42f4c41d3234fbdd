"""Weight regularisers with an explicit L2 convention.

TF1's ``tf.nn.l2_loss(w)`` and ``l2_regularizer(s)`` compute ``s * sum(w**2) / 2``;
Keras ``L2(s)`` computes ``s * sum(w**2)``. tfzoo follows Keras, and
``convention="tf1"`` halves the coefficient so ``book()`` presets reproduce the
books' numbers (实例33's ``0.01 * l2_loss(W)`` is ``l2(0.01, convention="tf1")``).
"""

from __future__ import annotations

import keras

from tfzoo.common.errors import ConfigError

__all__ = ["L2_CONVENTIONS", "l1", "l2"]

L2_CONVENTIONS = ("keras", "tf1")


def l1(scale: float) -> keras.regularizers.Regularizer:
    """``scale * sum(|w|)``."""
    return keras.regularizers.L1(float(scale))


def l2(scale: float, *, convention: str = "keras") -> keras.regularizers.Regularizer:
    """``scale * sum(w**2)`` (Keras) or ``scale * sum(w**2) / 2`` (``convention="tf1"``)."""
    if convention not in L2_CONVENTIONS:
        raise ConfigError(
            f"unknown l2 convention {convention!r}; valid: {', '.join(L2_CONVENTIONS)}"
        )
    return keras.regularizers.L2(float(scale) / 2 if convention == "tf1" else float(scale))
