"""Export a trained run: `.keras`, a SavedModel whose signature takes raw inputs, TFLite."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import tensorflow as tf

from tfzoo.common.errors import UserError

FORMATS = ("keras", "savedmodel", "tflite")


def _replace_dir(tmp: Path, final: Path) -> None:
    # Build beside the target, then swap, so a failed export never removes a good one.
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)


def export(trainer: Any, *, fmt: str = "savedmodel", model_name: str = "model") -> Path:
    """Write `export/` for a restored trainer; returns the path of the exported artefact."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = trainer.run.export
    out.mkdir(parents=True, exist_ok=True)
    model = trainer.models[model_name]
    if fmt == "keras":
        path = out / "model.keras"
        tmp = out / "model.tmp.keras"
        model.save(tmp)
        tmp.replace(path)
    else:
        signature = trainer.task.serving_function(trainer.config, trainer.models, trainer.info)
        module = tf.Module()
        module.model = model
        module.serve = signature
        path = out / "saved_model"
        tmp = out / "saved_model.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": signature})
        _replace_dir(tmp, path)
        if fmt == "tflite":
            path = _tflite(model, out / "model.tflite")
    _write_manifest(trainer, out, model)
    return path


def _tflite(model: Any, target: Path) -> Path:
    """Convert the bare model (preprocessed, fixed-size inputs; see manifest.json).

    The raw-input serving signature resizes with antialiasing, an op TFLite
    lacks even as a flex op, so the on-device model takes prepared tensors.
    """
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    # Ops such as MaxPoolWithArgmax run through the TF "flex" delegate.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    try:
        data = converter.convert()
    except Exception as err:  # the converter raises many types; report one line
        raise UserError(f"this model cannot be converted to TFLite: {str(err).splitlines()[0]}") from None
    target.write_bytes(data)
    return target


def _write_manifest(trainer: Any, out: Path, model: Any) -> None:
    config_text = trainer.run.config.read_text() if trainer.run.config.exists() else ""
    manifest = {
        "task": trainer.task.name,
        # Subclassed models have no symbolic inputs until a functional wrapper gives them some.
        "inputs": [_describe(t) for t in getattr(model, "inputs", None) or []],
        "outputs": [_describe(t) for t in getattr(model, "outputs", None) or []],
        "class_names": trainer.info.get("class_names", []),
        "config_sha256": hashlib.sha256(config_text.encode()).hexdigest(),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")


def _describe(tensor: Any) -> dict[str, Any]:
    return {"name": tensor.name, "shape": list(tensor.shape), "dtype": tensor.dtype}
