"""Deterministic stratified splits.

Splits use a fixed seed, never the training seed, so the test data of a spec never changes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

SPLIT_SEED = 20_171_001


def _apportion(share: np.ndarray, capacity: np.ndarray, total: int) -> np.ndarray:
    """Integer quotas near `share` that sum to `total` (largest remainder), capped by `capacity`."""
    quota = np.minimum(np.floor(share).astype(np.int64), capacity)
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    while quota.sum() < total and (quota < capacity).any():
        for k in order:
            if quota.sum() >= total:
                break
            if quota[k] < capacity[k]:
                quota[k] += 1
    return quota


def carve(labels, *, val: float, test: float, seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """Split indices of `labels` into train/val/test, each class in proportion.

    `val` and `test` are fractions of all records; train gets the rest. The result holds
    sorted index arrays, so each split keeps the source order.
    """
    labels = np.asarray(labels)
    n = len(labels)
    rng = np.random.default_rng(seed)
    _, inverse = np.unique(labels, return_inverse=True)
    members = [rng.permutation(np.flatnonzero(inverse == k)) for k in range(inverse.max(initial=-1) + 1)]
    counts = np.array([len(m) for m in members], np.int64)
    taken = np.zeros_like(counts)
    parts = {}
    for name, fraction in (("val", val), ("test", test)):
        total = int(np.floor(n * fraction + 0.5))
        quota = _apportion(counts * fraction, counts - taken, total)
        parts[name] = [m[t:t + q] for m, t, q in zip(members, taken, quota, strict=True)]
        taken = taken + quota
    parts["train"] = [m[t:] for m, t in zip(members, taken, strict=True)]
    return {name: np.sort(np.concatenate(chunks + [np.zeros(0, np.int64)])) for name, chunks in parts.items()}


def pick(split: str, *, present: Iterable[str], labels) -> np.ndarray:
    """Indices of the records of a group that belong to `split`.

    A split that has its own group (files or folder) takes all of it. Any of val/test
    without one is carved from train, 10% of train each, stratified.
    """
    present = set(present)
    if split != "train" and split in present:
        return np.arange(len(labels))
    val = 0.0 if "val" in present else 0.1
    test = 0.0 if "test" in present else 0.1
    return carve(labels, val=val, test=test)[split]
