"""Export a trained run: `.keras`, a SavedModel whose signature takes raw inputs, TFLite."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
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
    own = run.task.export_formats()
    if fmt not in FORMATS and fmt not in own:
        raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join([*FORMATS, *own])}")
    if fmt in own:  # a task's own format (word2vec text vectors): its writer, then the manifest
        run.export.mkdir(parents=True, exist_ok=True)
        path = Path(own[fmt](run))
        _write_manifest(run, run.export, {}, {"format": fmt, **run.task.export_manifest(run)})
        return path
    default = tuple(run.task.export_models)
    names = tuple(models or default)
    unknown = [n for n in names if n not in run.models]
    if unknown:
        raise UserError(f"{run.path}: no model {', '.join(unknown)}; this run has {', '.join(run.models)}")
    out = run.export
    out.mkdir(parents=True, exist_ok=True)
    chosen = {name: run.models[name] for name in names}
    extra: dict[str, Any] = {}
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
            served = run.task.serving_function(run.config, run.models, run.info)
            # A task may serve several signatures (a forecaster's predict and filter continuations).
            signatures = dict(served) if isinstance(served, dict) else {"serving_default": served}
        else:
            signatures = {("serving_default" if len(names) == 1 else name): model_signature(model)
                          for name, model in chosen.items()}
        module.serve = dict(signatures)
        path = out / "saved_model"
        tmp = out / "saved_model.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tf.saved_model.save(module, str(tmp), signatures=signatures)
        _replace_dir(tmp, path)
        extra["serving"] = {name: _describe_signature(fn) for name, fn in signatures.items()}
        if fmt == "tflite":
            path, extra["tflite"] = _tflite(next(iter(chosen.values())), out / f"{names[0]}.tflite")
    extra.update(run.task.export_manifest(run))
    _write_manifest(run, out, chosen, extra)
    return path


def model_signature(model: Any) -> Any:
    """A serving function over a Keras model's own inputs."""
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise UserError(f"model {model.name} has no symbolic inputs to export a signature from; use --format keras")
    spec = [tf.TensorSpec(t.shape, t.dtype, name=t.name.split(":")[0]) for t in inputs]
    return tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0], training=False), input_signature=spec)


def _tflite(model: Any, target: Path) -> tuple[Path, dict[str, Any]]:
    """Convert the bare model (preprocessed, fixed-size inputs; see manifest.json).

    The raw-input serving signature resizes with antialiasing, an op TFLite
    lacks even as a flex op, so the on-device model takes prepared tensors.
    Builtin ops are tried first; a model that needs TensorFlow ops (MaxPoolWithArgmax, a
    while loop over a filter) is converted with them and the manifest and stderr say that the
    interpreter needs the Flex delegate (LiteRT or tflite-runtime built with select TF ops).
    """
    data, needs_flex = None, False
    for ops in ([tf.lite.OpsSet.TFLITE_BUILTINS],
                [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]):
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        converter.target_spec.supported_ops = ops
        try:
            data = converter.convert()
            break
        except Exception as err:  # noqa: BLE001 - the converter raises many types; report one line
            needs_flex, last = True, err
    if data is None:
        raise UserError(f"this model cannot be converted to TFLite: {str(last).strip().splitlines()[0]}")
    target.write_bytes(data)
    if needs_flex:
        print(f"notice: {target} uses TensorFlow (Flex) ops: run it with an interpreter that links the Flex "
              "delegate (LiteRT or tflite-runtime built with select TF ops)", file=sys.stderr)
    return target, {"file": target.name, "needs_flex_delegate": needs_flex}


def _write_manifest(run: Any, out: Path, models: dict[str, Any], extra: dict[str, Any]) -> None:
    config_text = run.config_file.read_text() if run.config_file.exists() else ""
    manifest = {
        "task": run.task.name,
        # Subclassed models have no symbolic inputs until a functional wrapper gives them some.
        "models": {name: {"inputs": [_describe(t) for t in getattr(model, "inputs", None) or []],
                          "outputs": [_describe(t) for t in getattr(model, "outputs", None) or []]}
                   for name, model in models.items()},
        "class_names": run.info.get("class_names", []),
        "config_sha256": hashlib.sha256(config_text.encode()).hexdigest(),
        **extra,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")


def _describe_signature(function: Any) -> dict[str, Any]:
    """What a serving signature takes and returns (the raw inputs, not the bare model's tensors)."""
    concrete = function.get_concrete_function()
    args, kwargs = concrete.structured_input_signature
    named = [(s.name or f"input_{i}", s) for i, s in enumerate(tf.nest.flatten(args))] + list(kwargs.items())
    outputs = concrete.structured_outputs
    outputs = outputs.items() if isinstance(outputs, dict) else enumerate(tf.nest.flatten(outputs))

    def spec(s: Any) -> dict[str, Any]:
        return {"shape": s.shape.as_list() if s.shape.rank is not None else None, "dtype": s.dtype.name}

    return {"inputs": {name: spec(s) for name, s in named}, "outputs": {str(k): spec(t) for k, t in outputs}}


def _describe(tensor: Any) -> dict[str, Any]:
    return {"name": tensor.name, "shape": list(tensor.shape), "dtype": tensor.dtype}
