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


def export(run: Any, *, fmt: str = "savedmodel", models: tuple[str, ...] | None = None) -> Path:
    """Write `export/` for an opened `Run`; returns the path of the (first) exported artefact.

    `models` names the models to export under their own names (a GAN's "generator", an
    "encoder"/"decoder" pair); the default is the task's `export_models`, whose SavedModel carries
    the task's serving signature over raw inputs. Other models get a signature over their own
    Keras inputs, one per model.
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    default = tuple(run.task.export_models)
    names = tuple(models or default)
    unknown = [n for n in names if n not in run.models]
    if unknown:
        raise UserError(f"{run.path}: no model {', '.join(unknown)}; this run has {', '.join(run.models)}")
    out = run.export
    out.mkdir(parents=True, exist_ok=True)
    chosen = {name: run.models[name] for name in names}
    if fmt == "keras":
        paths = []
        for name, model in chosen.items():
            path = out / f"{name}.keras"
            tmp = out / f"{name}.tmp.keras"
            model.save(tmp)
            tmp.replace(path)
            paths.append(path)
        path = paths[0]
    else:
        module = tf.Module()
        module.models = dict(chosen)
        if names == default:
            signatures = {"serving_default": run.task.serving_function(run.config, run.models, run.info)}
        else:
            signatures = {("serving_default" if len(names) == 1 else name): model_signature(model)
                          for name, model in chosen.items()}
        module.serve = dict(signatures)
        path = out / "saved_model"
        tmp = out / "saved_model.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tf.saved_model.save(module, str(tmp), signatures=signatures)
        _replace_dir(tmp, path)
        if fmt == "tflite":
            path = _tflite(next(iter(chosen.values())), out / f"{names[0]}.tflite")
    _write_manifest(run, out, chosen)
    return path


def model_signature(model: Any) -> Any:
    """A serving function over a Keras model's own inputs."""
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise UserError(f"model {model.name} has no symbolic inputs to export a signature from; use --format keras")
    spec = [tf.TensorSpec(t.shape, t.dtype, name=t.name.split(":")[0]) for t in inputs]
    return tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0], training=False), input_signature=spec)


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


def _write_manifest(run: Any, out: Path, models: dict[str, Any]) -> None:
    config_text = run.config_file.read_text() if run.config_file.exists() else ""
    manifest = {
        "task": run.task.name,
        # Subclassed models have no symbolic inputs until a functional wrapper gives them some.
        "models": {name: {"inputs": [_describe(t) for t in getattr(model, "inputs", None) or []],
                          "outputs": [_describe(t) for t in getattr(model, "outputs", None) or []]}
                   for name, model in models.items()},
        "class_names": run.info.get("class_names", []),
        "config_sha256": hashlib.sha256(config_text.encode()).hexdigest(),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")


def _describe(tensor: Any) -> dict[str, Any]:
    return {"name": tensor.name, "shape": list(tensor.shape), "dtype": tensor.dtype}
