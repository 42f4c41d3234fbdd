"""`check(spec)`: read every record of every split and report counts, classes, shapes and problems."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfzoo.common.errors import DataError, DataNotFound

from .base import SPLITS, DataSplit
from .problems import collecting, tf_message
from .spec import parse_spec, resolve

REPORT_GROUP = "tfzoo.data.reports"

MAX_ERRORS = 100  # per split: enough to see a pattern without flooding the report


def check(spec: str) -> dict:
    """Read every record of every split; collect problems instead of raising.

    Returns `{"spec", "splits": {split: {"count", "classes": {name: count}, "shapes": [[H, W, C], ...]}},
    where a class count is examples per label, or instances per class for detection records (dicts with
    "image" and "classes"),
    "errors": ["file:record: found X, expected Y", ...]}`. Raises DataNotFound only when no split exists.
    """
    report: dict = {"spec": spec, "splits": {}, "errors": []}
    not_found = train = None
    domain_report = _domain_report(spec)
    with collecting() as problems:
        for split in SPLITS:
            try:
                data = resolve(spec, split, on_error="skip")
            except DataNotFound as e:
                not_found = not_found or e
                problems.append(str(e))
                continue
            except DataError as e:
                problems.append(str(e))
                continue
            report["splits"][split] = _summarise(spec, split, data, problems)
            if domain_report is not None:
                extra = dict(domain_report(data, train=train))
                problems.extend(f"{spec} [{split}]: {line}" for line in extra.pop("problems", []))
                report["splits"][split]["report"] = extra
            train = data if split == "train" else train
    if not report["splits"] and not_found is not None:
        raise not_found
    report["errors"] = list(dict.fromkeys(problems))  # carved splits share files: report each problem once
    return report


def _domain_report(spec: str):
    """The domain's extra check for a scheme (entry-point group "tfzoo.data.reports"), or None.

    A report is `report(split, *, train) -> dict` (`train` is the train split, None when checking
    train itself); its "problems" (one line each) join the errors, the rest is printed.
    """
    from importlib.metadata import entry_points

    scheme = parse_spec(spec).scheme
    point = next((ep for ep in entry_points(group=REPORT_GROUP) if ep.name == scheme), None)
    return point.load() if point is not None else None


def _summarise(spec: str, split: str, data: DataSplit, problems: list[str]) -> dict:
    counts = np.zeros(len(data.class_names), np.int64)
    shapes: set[tuple[int, ...]] = set()
    count = errors = 0
    records = iter(data.dataset)
    while errors < MAX_ERRORS:
        try:
            element = next(records)
        except StopIteration:
            break
        except tf.errors.OpError as e:  # a tf.data iterator moves on to the next element after a map error
            problems.append(f"{spec} [{split}]:{count + errors}: found {tf_message(e)}, "
                            f"expected a decodable record")
            errors += 1
            continue
        count += 1
        features, label = element if isinstance(element, tuple) and len(element) == 2 else (element, None)
        if isinstance(features, dict) and "image" in features:  # detection records: image, boxes, classes
            shapes.add(tuple(features["image"].shape))
            ids = np.asarray(features.get("classes", np.zeros([0]))).ravel()
            np.add.at(counts, ids[(ids >= 0) & (ids < len(counts))].astype(np.int64), 1)  # instances per class
        elif isinstance(features, (tf.Tensor, dict, tuple)):  # any other record: its first tensor's shape
            shapes.add(tuple(tf.nest.flatten(features)[0].shape))
        if label is not None and label.shape.rank == 0 and 0 <= int(label) < len(counts):
            counts[int(label)] += 1
    if errors >= MAX_ERRORS:
        problems.append(f"{spec} [{split}]: stopped after {MAX_ERRORS} unreadable records")
    elif count != data.size:
        problems.append(f"{spec} [{split}]: found {count} records, expected {data.size}")
    summary = {"count": count, "classes": dict(zip(data.class_names, counts.tolist(), strict=True)),
               "shapes": [list(s) for s in sorted(shapes)[:20]]}
    # Small facts the reader reports about the data (sample rate, vocabulary size, columns).
    summary["meta"] = {k: v for k, v in data.meta.items() if k != "class_names" and len(repr(v)) <= 200}
    return summary
