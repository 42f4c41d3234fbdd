"""vision.transfer: pretrain, weights from a run and from a file, frozen and unfrozen blocks, data, CLI, errors.

One tiny pretraining run (mobilenet_v2 alpha 0.35 at 32 px, 2 steps) is shared by the module.
"""

import json
import typing
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from tfzoo.common import config as cfg
from tfzoo.common.cli import open_run
from tfzoo.common.data.images import read_image_file
from tfzoo.common.logging import read_metrics
from tfzoo.common.testing import run_cli
from tfzoo.common.train import Trainer
from tfzoo.vision.transfer.config import BackboneName, TransferConfig
from tfzoo.vision.transfer.model import BACKBONES, blocks, inner_backbone, top_layers
from tfzoo.vision.transfer.task import Transfer


def _image_folder(root, *, classes=("cat", "dog"), per_class=12, size=(20, 16)):
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            pixels[..., c] = 255  # a learnable colour cue per class
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    run = tmp_path_factory.mktemp("transfer") / "pretrain"
    code, out, err = run_cli("train", "vision.transfer", "--tiny", "--run-dir", str(run),
                             "--set", "mode=pretrain", "--set", "train.steps=2")
    assert code == 0, err
    opened = open_run(str(run))
    weights = [w.copy() for w in inner_backbone(opened.models["model"]).get_weights()]
    return {"run": run, "opened": opened, "weights": weights}


def test_pretrain_run_trains_everything(pretrained):
    info = json.loads((pretrained["run"] / "info.json").read_text())
    assert info["input_shape"] == [32, 32, 3] and info["class_names"] == [str(i) for i in range(10)]
    config = pretrained["opened"].config
    assert config.mode == "pretrain" and config.data_spec == "mnist-8x8"
    stages = {r["stage"] for r in read_metrics(pretrained["run"] / "metrics.jsonl")}
    assert stages == {"all"}


def test_finetune_from_run_copies_backbone_and_head_stage_keeps_it(pretrained, tmp_path):
    """A head-only fine-tune from `run:` (the tiny run's train/evaluate/predict/export: test_conformance.py)."""
    grey = tmp_path / "digit.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(grey)
    code, _, err = run_cli("train", "vision.transfer", "--tiny", "--run-dir", str(tmp_path / "fine"),
                           "--set", "train.steps=2", "--set", f"weights=run:{pretrained['run']}", "--set", "stages=head")
    assert code == 0, err
    run = open_run(str(tmp_path / "fine"))
    assert run.config.data_spec == "digits-8x8" and run.step == 2
    assert json.loads((tmp_path / "fine/info.json").read_text())["weights"].startswith("run:")
    backbone = inner_backbone(run.models["model"])
    for got, want in zip(backbone.get_weights(), pretrained["weights"], strict=True):
        np.testing.assert_array_equal(got, want)  # copied, then untouched by the head stage (BN stats too)
    assert not any(layer.trainable for layer in backbone.layers)
    (top,) = run.task.predict(run, [str(grey)])
    assert len(top["top_k"]) == 3 and {p["label"] for p in top["top_k"]} <= {str(i) for i in range(10)}


def test_unfreeze_changes_only_the_top_blocks_from_a_weights_file(pretrained, tmp_path):
    """Weights from a `file:` saved here; `folder:` data; head then unfreeze of the top 2 blocks."""
    path = tmp_path / "mobilenet_v2_035_notop.weights.h5"
    inner_backbone(pretrained["opened"].models["model"]).save_weights(str(path))
    folder = _image_folder(tmp_path / "pets")
    config = replace(TransferConfig.tiny(), data=f"folder:{folder}", weights=str(path), unfreeze_blocks=2,
                     train=replace(TransferConfig.tiny().train, steps=2, batch_size=8, eval_every=100, ckpt_every=100))
    trainer = Trainer(task=Transfer(), config=config, run_dir=tmp_path / "run", verbose=False)
    trainer.fit()
    stages = [r["stage"] for r in read_metrics(tmp_path / "run/metrics.jsonl")]
    assert stages[:2] == ["head", "unfreeze"]
    backbone = inner_backbone(trainer.models["model"])
    top = {id(layer) for layer in top_layers(backbone, "mobilenet_v2", 2)}
    assert len(blocks(backbone, "mobilenet_v2")) == 18  # stem, expanded_conv, block_1 .. block_16
    start = dict(zip([w.path for w in backbone.weights], pretrained["weights"], strict=True))
    changed_top = 0
    for layer in backbone.layers:
        for weight in layer.weights:
            same = np.array_equal(np.asarray(weight), start[weight.path])
            if id(layer) not in top or not weight.trainable:
                assert same, f"{weight.path} moved but is outside the top blocks or a BN statistic"
            else:
                changed_top += not same
    assert changed_top > 0
    assert trainer.info["class_names"] == ["cat", "dog"]


def test_legacy_h5_notop_file_loads_like_keras_imagenet_weights(pretrained, tmp_path):
    """The format of Keras's downloadable *_notop.h5 files: strict topological load, else by name."""
    import h5py
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    from tfzoo.vision.transfer.model import build_model, load_initial_weights

    path = tmp_path / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_32_no_top.h5"
    with h5py.File(path, "w") as f:
        save_weights_to_hdf5_group(f, inner_backbone(pretrained["opened"].models["model"]))
    config = replace(TransferConfig.tiny(), weights=f"file:{path}")
    model = build_model(config, input_size=48, num_classes=3)  # another input size: conv weights still fit
    note = load_initial_weights(model, config)
    assert note["loaded"] == note["of"] == len(pretrained["weights"])
    for got, want in zip(inner_backbone(model).get_weights(), pretrained["weights"], strict=True):
        np.testing.assert_array_equal(got, want)


def test_tfrecord_data_is_rgb_at_the_backbone_minimum(tmp_path):
    from tfzoo.common.data import convert_folder

    folder = _image_folder(tmp_path / "pets")
    convert_folder(folder, tmp_path / "shards", shards=2, val=4)
    task = Transfer()
    config = replace(TransferConfig.tiny(), data=f"tfrecord:{tmp_path}/shards/*.tfrecord", image_size=0)
    train = task.data(config, "train")
    info = task.data_info(config, train)
    assert info["input_shape"] == [32, 32, 3] and info["class_names"] == ["cat", "dog"]
    image, label = task.eval_map(config, info, next(iter(train.dataset)))
    assert image.shape == (32, 32, 3) and 0.0 <= float(np.min(image)) and float(np.max(image)) <= 1.0
    inception = replace(config, backbone="inception_v3")
    assert task.data_info(inception, train)["input_shape"] == [75, 75, 3]


@pytest.mark.parametrize("sets, needle", [
    (["weights=/no/such/weights.h5"], "weights=file:/no/such/weights.h5: no such file"),
    (["weights=run:/no/such/run"], "not a tfzoo run"),
    (["backbone=alexnet"], "config key 'backbone': found 'alexnet', expected one of mobilenet_v2"),
    (["mode=distil"], "config key 'mode': found 'distil', expected one of pretrain, finetune"),
    (["image_size=16"], "below mobilenet_v2's minimum of 32"),
    (["stages=head,thaw"], "config key 'stages': found 'thaw', expected one of head, unfreeze"),
])
def test_bad_settings_are_one_line_errors(tmp_path, sets, needle):
    args = [a for s in sets for a in ("--set", s)]
    code, _, err = run_cli("train", "vision.transfer", "--tiny", "--run-dir", str(tmp_path / "run"), *args)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_a_wrong_weights_file_is_one_line(tmp_path):
    bad = tmp_path / "not_weights.h5"
    bad.write_text("hello")
    code, _, err = run_cli("train", "vision.transfer", "--tiny", "--run-dir", str(tmp_path / "run"),
                           "--set", f"weights={bad}")
    assert code == 2 and "not Keras weights for mobilenet_v2" in err and len(err.strip().splitlines()) == 1, err


def test_config_round_trips_and_tiny_is_small():
    config = cfg.override(TransferConfig.tiny(), {"stages": "head", "weights": "run:x", "unfreeze_blocks": "3"})
    assert config.stages == ("head",) and config.unfreeze_blocks == 3
    stages = Transfer().stages(TransferConfig.tiny())
    # The head trains with the model's optimiser; unfreeze adds the backbone's lower rate ("unfreeze" pairs them).
    assert [(s.name, s.steps, s.optimizer) for s in stages] == [("head", 2, ""), ("unfreeze", 2, "unfreeze")]
    assert [s.name for s in Transfer().stages(replace(TransferConfig.tiny(), mode="pretrain"))] == ["all"]
    assert set(typing.get_args(BackboneName)) == set(BACKBONES)


@pytest.mark.slow
def test_transfer_beats_scratch_at_5_percent_labels(tmp_path):
    """Pretrain on mnist-8x8 (the default), fine-tune on 5% of digits-8x8: better than training from scratch."""
    base = replace(TransferConfig(), image_size=32)
    steps = replace(base.train, steps=600, batch_size=64, eval_every=10**6, ckpt_every=10**6, log_every=100)
    pre = Trainer(task=Transfer(), config=replace(base, mode="pretrain", train=steps),
                  run_dir=tmp_path / "pre", verbose=False)
    pre.fit()
    few = replace(steps, steps=300, batch_size=32)
    scores = {}
    for name, config in {
        "scratch": replace(base, mode="pretrain", data="digits-8x8", train_fraction=0.05, train=few),
        "transfer": replace(base, weights=f"run:{tmp_path / 'pre'}", train_fraction=0.05, train=few),
    }.items():
        trainer = Trainer(task=Transfer(), config=config, run_dir=tmp_path / name, verbose=False)
        trainer.fit()
        scores[name] = float(trainer.evaluate(trainer.task.data(config, "test"))["accuracy"])
    assert scores["transfer"] > scores["scratch"] + 0.02, scores


# ----- inference extras (spec §3.3): include_top top-k (实例85) and dense class maps (实例86) -------------------
def _extras_cli(*argv):
    import contextlib
    import io

    from tfzoo.vision.transfer.extras import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _scramble(model, seed=0):
    """He-scaled random weights and unit BN statistics: a random MobileNetV2 as Keras builds it ends in
    features ~1e-11 (every image alike), too flat to tell classes or positions apart."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if isinstance(layer, keras.layers.BatchNormalization):  # gamma, beta, moving mean, moving variance
            gamma, beta, mean, var = weights
            layer.set_weights([np.ones_like(gamma), rng.normal(0, 0.1, beta.shape).astype(np.float32),
                               np.zeros_like(mean), np.ones_like(var)])
            continue
        fan = int(np.prod(weights[0].shape[:2] if isinstance(layer, keras.layers.DepthwiseConv2D)
                          else weights[0].shape[:-1]))
        layer.set_weights([rng.normal(0, np.sqrt(2 / fan) if w.ndim > 1 else 0.1, w.shape).astype(np.float32)
                           for w in weights])


def _names(count=1000):
    return [f"name {i}" for i in range(count)]


@pytest.fixture(scope="module")
def top_run(tmp_path_factory):
    """A predict-only include_top run (32 px) from a full-weights file, its 1,000 names from a labels file."""
    from tfzoo.vision.transfer.model import build_model

    root = tmp_path_factory.mktemp("top")
    config = replace(TransferConfig.tiny(), include_top=True)
    source = build_model(config, input_size=32, num_classes=1000)
    _scramble(inner_backbone(source))
    weights = root / "mobilenet_v2_0.35_32_full.weights.h5"
    inner_backbone(source).save_weights(str(weights))
    labels = root / "labels.txt"
    labels.write_text("\n".join(_names()) + "\n")
    code, out, err = _extras_cli(str(root / "run"), "--set", f"weights=file:{weights}", "--set", "image_size=32",
                                 "--set", f"labels=file:{labels}")
    assert code == 0 and out.strip() == str(root / "run"), err
    return {"root": root, "run": root / "run", "source": source, "labels": labels}


def _png(path, size, seed=0):
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return str(path)


def test_include_top_run_restores_the_weights_file_and_predicts_named_top_k(top_run):
    from tfzoo.vision.classify import data as classify_data

    opened = open_run(str(top_run["run"]))
    assert opened.config.include_top and opened.info["class_names"] == _names() and opened.step == 0
    model = opened.models["model"]
    for got, want in zip(model.get_weights(), top_run["source"].get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    image = _png(top_run["root"] / "laptop.png", (40, 30))
    code, out, err = run_cli("predict", str(top_run["run"]), image)
    assert code == 0, err
    top = json.loads(out)["top_k"]
    x = classify_data.prepare(read_image_file(image)[None], opened.info, standardize=False)
    logits = np.asarray(model(x, training=False))[0]
    probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    want = np.argsort(-probs)[:3]
    assert [p["label"] for p in top] == [f"name {i}" for i in want]  # class c is names[c]: no +1 offset
    np.testing.assert_allclose([p["probability"] for p in top], probs[want], atol=2e-6)
    assert top[0]["probability"] > 2 / 1000  # the scrambled weights separate classes


def test_keras_class_index_json_names_the_classes(top_run, tmp_path):
    from tfzoo.vision.transfer.extras import read_labels

    index = {str(i): [f"n{i:08d}", f"keras {i}"] for i in range(1000)}
    path = tmp_path / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    assert read_labels(f"file:{path}", 1000)[:2] == ["keras 0", "keras 1"]
    image = _png(tmp_path / "x.png", (32, 32), seed=1)
    _, plain, _ = run_cli("predict", str(top_run["run"]), image)
    code, out, err = run_cli("predict", str(top_run["run"]), image, "--set", f"labels=file:{path}")
    assert code == 0, err
    got = [p["label"] for p in json.loads(out)["top_k"]]
    assert got == [p["label"].replace("name", "keras") for p in json.loads(plain)["top_k"]]


def test_include_top_without_labels_names_classes_by_index(tmp_path):
    from tfzoo.vision.transfer.extras import top_info

    info = top_info(replace(TransferConfig.tiny(), include_top=True))
    assert info["class_names"][0] == "class_0" and info["class_names"][-1] == "class_999"
    assert info["input_shape"] == [32, 32, 3]
    assert top_info(replace(TransferConfig(), include_top=True, backbone="inception_v3"))["input_shape"][0] == 299


@pytest.mark.parametrize("content, needle", [
    (None, "no such file"),
    ("a\nb\nc\n", "3 class names, but the model has 1000 classes"),
    ('{"0": ["n01440764", "tench"],', "bad JSON"),
    (json.dumps({str(i): ["n0", f"c{i}"] for i in range(999)}), "999 class names, but the model has 1000"),
    (json.dumps({"0": ["n0", "a"], "2": ["n2", "b"]}), "class indices must run 0..1 without gaps"),
])
def test_bad_labels_are_one_line_errors(tmp_path, content, needle):
    labels = tmp_path / ("labels.json" if content and content.startswith("{") else "labels.txt")
    if content is not None:
        labels.write_text(content)
    code, _, err = _extras_cli(str(tmp_path / "run"), "--set", "image_size=32", "--set", f"labels=file:{labels}")
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


def test_include_top_is_predict_only_and_needs_full_weights(tmp_path):
    code, _, err = run_cli("train", "vision.transfer", "--tiny", "--run-dir", str(tmp_path / "run"),
                           "--set", "include_top=true")
    assert code == 2 and "predict-only" in err and "tfzoo.vision.transfer.extras" in err, err
    code, _, err = _extras_cli(str(tmp_path / "top"), "--set", "image_size=32", "--set", "weights=run:/somewhere")
    assert code == 2 and "needs full ImageNet weights" in err and len(err.strip().splitlines()) == 1, err
    code, _, err = _extras_cli(str(tmp_path / "top"), "--set", "image_size=32", "--set", "weights=/no/full.h5")
    assert code == 2 and "expected Keras full (include_top) weights" in err, err


@pytest.mark.parametrize("include_top", [False, True])
def test_dense_map_averaged_over_positions_equals_the_model_logits(include_top):
    """GAP then Dense == Dense as a 1x1 conv then averaging (both linear); dropout off at inference."""
    from tfzoo.vision.transfer.extras import dense_logits, dense_parts
    from tfzoo.vision.transfer.model import build_model

    config = replace(TransferConfig.tiny(), include_top=include_top, dropout=0.5)
    model = build_model(config, input_size=64, num_classes=1000 if include_top else 5)
    _scramble(inner_backbone(model), seed=2)
    if not include_top:
        kernel, bias = model.get_layer("logits").get_weights()
        model.get_layer("logits").set_weights([kernel * 10, bias + 0.1])
    images = np.random.default_rng(3).random((2, 64, 64, 3)).astype(np.float32)
    dense = dense_logits(dense_parts(model, config), images, backbone=config.backbone).numpy()
    assert dense.shape == (2, 2, 2, 1000 if include_top else 5)
    assert np.std(dense, axis=(1, 2)).mean() > 1e-3  # the positions differ: the average is not trivial
    logits = np.asarray(model(images, training=False))
    assert np.abs(logits).max() > 0.1
    np.testing.assert_allclose(dense.mean(axis=(1, 2)), logits, rtol=1e-4, atol=1e-4)
    # Any size at or above the minimum, not only the training size.
    other = dense_logits(dense_parts(model, config), images[:1, :, :48], backbone=config.backbone)
    assert other.shape[1:3] == (2, 1) and np.isfinite(other).all()


def test_predict_dense_writes_a_class_map_and_pixel_shares(top_run, tmp_path):
    image = _png(tmp_path / "street.png", (64, 96), seed=4)  # W 64, H 96 -> a 3 x 2 map at stride 32
    code, out, err = run_cli("predict", str(top_run["run"]), image, "--set", "dense=true")
    assert code == 0, err
    result = json.loads(out)
    assert result["map_shape"] == [3, 2, 1000]
    shares = result["pixel_share"]
    assert set(shares) <= set(_names()) and abs(sum(shares.values()) - 1) < 1e-5
    png = top_run["run"] / "predictions" / "street_class_map.png"
    assert result["class_map_png"] == str(png) and png.stat().st_size > 1000
    assert Image.open(png).size == (800, 600)
    small = _png(tmp_path / "small.png", (20, 40))
    code, _, err = run_cli("predict", str(top_run["run"]), small, "--set", "dense=true")
    assert code == 3 and "needs at least 32 px a side" in err and len(err.strip().splitlines()) == 1, err


def test_legacy_full_h5_loads_strictly_and_vgg_top_has_no_dense_form(top_run, tmp_path):
    """Keras ships full ImageNet weights as legacy .h5: every tensor of the classifier loads, the top too."""
    import h5py
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    from tfzoo.common.errors import ConfigError
    from tfzoo.vision.transfer.extras import dense_parts
    from tfzoo.vision.transfer.model import build_model, load_initial_weights

    path = tmp_path / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_32.h5"
    with h5py.File(path, "w") as f:
        save_weights_to_hdf5_group(f, inner_backbone(top_run["source"]))
    config = replace(TransferConfig.tiny(), include_top=True, weights=f"file:{path}")
    model = build_model(config, input_size=32, num_classes=1000)
    note = load_initial_weights(model, config)
    assert note["loaded"] == note["of"] == len(top_run["source"].weights)
    np.testing.assert_array_equal(model.get_layer("backbone").inner.get_layer("predictions").get_weights()[0],
                                  inner_backbone(top_run["source"]).get_layer("predictions").get_weights()[0])
    vgg = replace(TransferConfig.tiny(), include_top=True, backbone="vgg16")
    with pytest.raises(ConfigError, match="vgg16's classifier is not global pooling then one Dense layer"):
        dense_parts(build_model(vgg, input_size=32, num_classes=1000), vgg)
