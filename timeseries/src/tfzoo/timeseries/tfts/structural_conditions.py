"""Exogenous update conditions of the structural model (TFTS's changepoint example).

`parse_condition` turns a saved string (`"== yes"`, `"> 0"`) or a Python callable into a predicate on a tensor
of feature values; `condition_inputs` builds the `[T, U]` "update" inputs from raw named columns, the amounts
by which `StructuralModel` shifts the level at the steps where a condition holds. `StructuralEnsembleRegressor`
(`structural`) applies the same predicates to its encoded exogenous features.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.common.errors import ConfigError, DataError
from tfzoo.timeseries.tfts.kalman import DTYPE

_OPS = {"==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


def parse_condition(condition: str | Callable) -> Callable:
    """A condition as a predicate on a tensor of feature values.

    Strings are saved with the estimator: `"== yes"`, `"> 0"`, `"!= 0"` (compare with a number when the
    operand parses as one, else with the category string). A Python callable must accept and return tensors.
    """
    if callable(condition):
        return condition
    text = str(condition).strip()
    for symbol in sorted(_OPS, key=len, reverse=True):
        if text.startswith(symbol):
            operand = text[len(symbol):].strip()
            op = _OPS[symbol]
            try:
                number = float(operand)
            except ValueError:
                return lambda v, op=op, operand=operand: op(tf.strings.as_string(v) if v.dtype != tf.string
                                                            else v, operand)
            return lambda v, op=op, number=number: op(tf.cast(v, DTYPE), number)
    raise ConfigError(f"exogenous_update_condition {condition!r}: expected a callable or '<op> <value>' "
                      f"with op one of {', '.join(_OPS)}")


def condition_inputs(columns: dict[str, Any], conditions: dict[str, str | Callable]) -> np.ndarray:
    """`[T, U]` update inputs from raw named columns: the value (1 for a string) where the condition holds, else 0."""
    out = []
    for name, condition in conditions.items():
        if name not in columns:
            raise DataError(f"exogenous_update_condition names {name!r}, which is not among the exogenous columns "
                            f"{', '.join(columns) or '(none)'}")
        raw = np.asarray(columns[name])
        numeric = raw.dtype.kind in "fiub"
        tensor = tf.constant(raw.astype(np.float64) if numeric else raw.astype(str))
        holds = np.asarray(parse_condition(condition)(tensor), bool)
        value = np.nan_to_num(raw.astype(np.float64)) if numeric else np.ones(len(raw))
        out.append(np.where(holds, value, 0.0))
    return np.stack(out, axis=1) if out else np.zeros((len(next(iter(columns.values()), [])), 0))
