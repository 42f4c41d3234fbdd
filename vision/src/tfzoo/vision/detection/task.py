"""DetectorTask: the data pipeline, evaluation, predict and serving that yolo, ssd and mask-rcnn share.

A subclass sets `name` and `config_class`, builds its models and steps as any common Task does, and
implements `detect(models, config, info, images)` on float32 images [B, S, S, 3] in [0, 1], returning
boxes [B, T, 4] (normalised yxyx), scores [B, T], classes [B, T] (int32 1..K), num [B] (int32) and,
for instance segmentation, masks [B, T, S, S] (floats in [0, 1] at the model's input size). A one-network
detector implements `train_losses` (the default `compute_loss` calls it); an `eval_step` that returns
`eval_outputs(detections, targets)` has every periodic validation log box mAP@0.5 (`aggregate`).

Config fields read here: `data` (spec), `image_size` (S), `train` (common's TrainConfig) and, when
present, `max_instances` (M, default 100), `flip` (default True), `data_seed` (default 0: every run
trains and evaluates on the same shapes images whatever its `train.seed`), `train_count`, `val_count`,
`test_count` (None: the loader's defaults, 500/200/200 for shapes) and `on_error` ("raise").

`data(config, split).dataset` yields `to_tensors` dicts at S x S: image uint8 [S, S, 3], boxes
float32 [M, 4], classes int32 [M] (0 = padding), num int32, masks uint8 [M, S, S] (resized nearest;
zeros without source masks; left out when `uses_masks` is False). Ignore instances (COCO iscrowd,
VOC difficult) are dropped there; evaluation keeps them as ignore regions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit
from tfzoo.common.errors import ConfigError, DataError, DataNotFound
from tfzoo.common.run import Run
from tfzoo.common.task import Task, TrainState
from tfzoo.vision.detection.dataset import DetectionData, load_detection

# How many validation images plots/<split>_examples.png shows (ground truth left, prediction right).
FIGURE_EXAMPLES = 4
FIGURE_SIZE = 256  # images smaller than this are enlarged by an integer factor in that figure


def to_model_images(images: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 [B, h, w, 3] -> float32 [B, S, S, 3] in [0, 1], resized exactly as the training pipeline does."""
    images = tf.convert_to_tensor(images)
    resized = tf.image.resize(tf.cast(images, tf.float32), [size, size])
    return tf.round(tf.clip_by_value(resized, 0.0, 255.0)) / 255.0


def fit_example(item: dict[str, tf.Tensor], *, size: int, max_instances: int) -> dict[str, tf.Tensor]:
    """Resize one compact example (image [h, w, 3], boxes [n, 4], classes [n], masks [n, h, w]) to S x S
    and pad its instances to M (cut beyond M)."""
    image = item["image"]
    same = tf.reduce_all(tf.equal(tf.shape(image)[:2], [size, size]))
    image = tf.cond(same, lambda: image,
                    lambda: tf.cast(tf.round(tf.clip_by_value(tf.image.resize(image, [size, size]), 0, 255)),
                                    tf.uint8))
    n = tf.minimum(tf.shape(item["classes"])[0], max_instances)
    pad = max_instances - n
    out = {
        "image": tf.ensure_shape(image, [size, size, 3]),
        "boxes": tf.ensure_shape(tf.pad(item["boxes"][:n], [[0, pad], [0, 0]]), [max_instances, 4]),
        "classes": tf.ensure_shape(tf.pad(item["classes"][:n], [[0, pad]]), [max_instances]),
        "num": tf.cast(n, tf.int32),
    }
    if "masks" in item:
        masks = item["masks"][:n]
        masks = tf.cond(same, lambda: masks, lambda: _resize_masks(masks, size, size))
        out["masks"] = tf.ensure_shape(tf.pad(masks, [[0, pad], [0, 0], [0, 0]]), [max_instances, size, size])
    return out


def _resize_masks(masks: tf.Tensor, height, width, *, method: str = "nearest") -> tf.Tensor:
    """[n, h, w] -> [n, height, width] (n may be 0)."""
    n = tf.shape(masks)[0]
    # One spare channel: resize rejects an image with zero channels.
    stacked = tf.transpose(tf.pad(masks, [[0, 1], [0, 0], [0, 0]]), [1, 2, 0])
    resized = tf.transpose(tf.image.resize(stacked[None], [height, width], method=method)[0], [2, 0, 1])[:n]
    return tf.cast(resized, masks.dtype) if method == "nearest" else resized


class DetectorTask(Task):
    """What yolo, ssd and mask-rcnn share; subclasses set `name`, `config_class` and implement the model parts."""

    # Box-only detectors may set this False: the pipeline then carries no "masks" (M x S x S bytes per image).
    uses_masks: bool = True

    def __init__(self) -> None:
        self._data_cache: dict[tuple, DetectionData] = {}
        self._detect_fns: dict[tuple, Any] = {}

    # ----- data --------------------------------------------------------------------------------------
    def detection_data(self, config: Any, split: str) -> DetectionData:
        """The examples of `split` at their own size (cached per task object)."""
        size = int(config.image_size)
        if size <= 0:
            raise ConfigError(f"image_size {config.image_size}: expected a positive number of pixels")
        key = (config.data, split, getattr(config, "data_seed", 0), size, getattr(config, f"{split}_count", None),
               getattr(config, "on_error", "raise"))
        if key not in self._data_cache:
            self._data_cache[key] = load_detection(config.data, split, seed=key[2], image_size=size, count=key[4],
                                                   on_error=key[5])
        return self._data_cache[key]

    def data(self, config: Any, split: str) -> DataSplit | None:
        """tf.data of padded `to_tensors` dicts at image_size (see the module docstring); None for an empty
        val/test split."""
        det = self.detection_data(config, split)
        if not det.examples:
            if split == "train":
                raise DataError(f"{config.data}: the train split holds no images")
            return None
        size, max_instances = int(config.image_size), int(getattr(config, "max_instances", 100))
        with_masks = self.uses_masks
        examples = det.examples

        def generate():
            for e in examples:
                keep = ~e.ignore
                item = {"image": e.image, "boxes": e.boxes[keep], "classes": e.classes[keep]}
                if with_masks:  # sources without masks give zeros, as to_tensors does
                    item["masks"] = (e.masks[keep] if e.masks is not None
                                     else np.zeros((int(keep.sum()), e.height, e.width), np.uint8))
                yield item

        signature = {"image": tf.TensorSpec([None, None, 3], tf.uint8),
                     "boxes": tf.TensorSpec([None, 4], tf.float32),
                     "classes": tf.TensorSpec([None], tf.int32)}
        if with_masks:
            signature["masks"] = tf.TensorSpec([None, None, None], tf.uint8)
        dataset = tf.data.Dataset.from_generator(generate, output_signature=signature).map(
            functools.partial(fit_example, size=size, max_instances=max_instances),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return DataSplit(dataset, len(examples), class_names=det.class_names, image_shape=(size, size, 3))

    def data_info(self, config: Any, train: Any) -> dict[str, Any]:
        """class_names, num_classes, image_size and has_masks, plus `extra_info` (e.g. YOLO's anchors)."""
        det = self.detection_data(config, "train")
        info = {"class_names": list(det.class_names), "num_classes": det.num_classes,
                "image_size": int(config.image_size), "has_masks": bool(det.has_masks)}
        info.update(self.extra_info(config, det))
        return info

    def extra_info(self, config: Any, train: DetectionData) -> dict[str, Any]:
        """Facts a subclass derives from the training data and must keep with the run (JSON-ready)."""
        return {}

    def train_map(self, config: Any, info: dict[str, Any], example: dict, seed: tf.Tensor) -> Any:
        """A random horizontal flip of image, boxes and masks, then `eval_map`."""
        if getattr(config, "flip", True):
            from tfzoo.vision.detection.augment import random_flip

            image, boxes, masks = random_flip(example["image"], example["boxes"], example.get("masks"), seed=seed)
            example = {**example, "image": image, "boxes": boxes}
            if masks is not None:
                example["masks"] = masks
        return self.eval_map(config, info, example)

    # ----- training (one-model detectors) ---------------------------------------------------------------
    def train_losses(self, state: TrainState, raw: Any, targets: Any) -> dict[str, tf.Tensor]:
        """This replica's scalar loss terms for the network output `raw`, scaled so that the sum over
        replicas is the global mean; "loss" is the one minimised. Needed by the default `compute_loss`."""
        raise NotImplementedError(f"{self.name} implements neither train_losses nor compute_loss")

    def compute_loss(self, state: TrainState, batch: Any) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """A single-network detector's loss: `train_losses` of the model's training output; the other
        terms are logged. `state.minimize` adds regularisation, clips and applies."""
        images, targets = batch
        terms = self.train_losses(state, state.models["model"](images, training=True), targets)
        return terms["loss"], {k: v for k, v in terms.items() if k != "loss"}

    # ----- evaluation --------------------------------------------------------------------------------
    def eval_outputs(self, detections: dict[str, tf.Tensor], targets: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """What a detector's `eval_step` returns for `aggregate`: one batch's detections (boxes, scores, classes,
        num) and its padded ground truth (targets' boxes and classes, 0 = padding)."""
        out = {k: detections[k] for k in ("boxes", "scores", "classes", "num")}
        return {**out, "gt_boxes": targets["boxes"], "gt_classes": targets["classes"]}

    def aggregate(self, config: Any, info: dict[str, Any], outputs: list[dict[str, Any]]) -> dict[str, float]:
        """Box mAP@0.5 (VOC all-point) over the evaluated images, from what `eval_step` returned
        (`eval_outputs`), so every periodic validation logs `map50`. `tfzoo evaluate` then replaces it by
        `after_evaluate`'s over every image at its own size, with ignore regions (COCO crowd, VOC difficult),
        which the evaluation batches leave out."""
        if not outputs:
            return {}
        from tfzoo.vision.detection.evaluation import mean_average_precision

        detections, truths = [], []
        for out in outputs:
            for i in range(len(out["num"])):
                detections.append({k: out[k][i] for k in ("boxes", "scores", "classes", "num")})
                keep = out["gt_classes"][i] > 0
                truths.append(_Truth(boxes=out["gt_boxes"][i][keep], classes=out["gt_classes"][i][keep],
                                     ignore=np.zeros(int(keep.sum()), bool)))
        return {"map50": mean_average_precision(detections, truths, num_classes=int(info["num_classes"]))["map"]}

    # ----- detection ---------------------------------------------------------------------------------
    def detect(self, models: dict, config: Any, info: dict[str, Any], images: tf.Tensor) -> dict[str, tf.Tensor]:
        """Detections on float32 images [B, S, S, 3] in [0, 1] (see the module docstring)."""
        raise NotImplementedError(f"{self.name} implements no detect")

    def _detect_fn(self, models: dict, config: Any, info: dict[str, Any]):
        key = (id(models), id(config), id(info))
        if key not in self._detect_fns:
            size = int(info["image_size"])
            self._detect_fns.clear()  # one compiled function per restored run
            self._detect_fns[key] = tf.function(
                lambda images: self.detect(models, config, info, images),
                input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
        return self._detect_fns[key]

    def detect_images(self, models: dict, config: Any, info: dict[str, Any], images: list[np.ndarray], *,
                      batch_size: int = 8) -> list[dict[str, np.ndarray]]:
        """Detections for uint8 images of any size, mapped back to each image: boxes (normalised yxyx),
        scores, classes and, when the detector gives them, masks uint8 [n, H, W] thresholded at 0.5."""
        size = int(info["image_size"])
        detect = self._detect_fn(models, config, info)
        results = []
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            batch = tf.concat([to_model_images(image[None], size) for image in chunk], axis=0)
            out = {k: v.numpy() for k, v in detect(batch).items()}
            for i, image in enumerate(chunk):
                n = int(out["num"][i])
                det = {"boxes": out["boxes"][i, :n].astype(np.float32),
                       "scores": out["scores"][i, :n].astype(np.float32),
                       "classes": out["classes"][i, :n].astype(np.int32)}
                if "masks" in out:
                    det["masks"] = _masks_to_image(out["masks"][i, :n], image.shape[0], image.shape[1])
                results.append(det)
        return results

    # ----- command-line hooks ------------------------------------------------------------------------
    def after_evaluate(self, run: Run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Detection over the whole split: box mAP@0.5 and COCO AP (and mask metrics when the data has
        masks), plots/pr.png and plots/<split>_examples.png (ground truth left, prediction right)."""
        from tfzoo.vision.detection import evaluation

        config, info = run.config, run.info
        det = self.detection_data(config, split)
        names = tuple(info["class_names"])
        if det.class_names != names:
            raise DataError(f"{config.data}: classes {list(det.class_names[1:])} differ from the run's "
                            f"{list(names[1:])}")
        detections = self.detect_images(run.models, config, info, [e.image for e in det.examples],
                                        batch_size=config.train.batch_size)
        masks = det.has_masks and bool(detections) and all("masks" in d for d in detections)
        plots = run.plots
        plots.mkdir(parents=True, exist_ok=True)
        results.update(evaluation.detection_report(detections, det.examples, names, masks=masks, plots_dir=plots))
        figure = self._examples_figure(det, detections, names, plots / f"{split}_examples.png")
        results["pr_png"] = str(plots / "pr.png")
        if figure is not None:
            results["examples_png"] = str(figure)
        return results

    def _examples_figure(self, det: DetectionData, detections: list[dict], names, path: Path) -> Path | None:
        from tfzoo.vision.detection import draw

        rows = []
        for example, found in list(zip(det.examples, detections))[:FIGURE_EXAMPLES]:
            # Small images (64-px shapes) are enlarged so labels stay readable; boxes are normalised.
            k = max(1, FIGURE_SIZE // max(example.height, example.width))
            image = _enlarge(example.image, k, image=True)
            keep = ~example.ignore
            truth = draw.draw_detections(image, example.boxes[keep], example.classes[keep], names,
                                         masks=None if example.masks is None else _enlarge(example.masks[keep], k))
            predicted = draw.draw_detections(image, found["boxes"], found["classes"], names, scores=found["scores"],
                                             masks=None if "masks" not in found else _enlarge(found["masks"], k))
            rows.append(draw.side_by_side(truth, predicted))
        if not rows:
            return None
        width = max(row.shape[1] for row in rows)
        rows = [np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
        draw.save_png(path, np.concatenate(rows, axis=0))
        return path

    def example_inputs(self, directory) -> list[str]:
        """Two generated shapes images, 64 and 80 px: predict takes any size."""
        from PIL import Image

        from tfzoo.vision.detection.shapes import generate

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = [directory / f"shapes_{size}.png" for size in (64, 80)]
        for path, size in zip(paths, (64, 80)):
            Image.fromarray(generate(1, size=size, seed=size)[0].image).save(path)
        return [str(p) for p in paths]

    def predict(self, run: Run, inputs: list[str]) -> list[dict[str, Any]]:
        """Image files -> <run>/predictions/<stem>.png overlays; one dict per image with the detections
        in pixels (see draw.predictions_to_json)."""
        from tfzoo.vision.detection import draw
        from tfzoo.vision.detection.coco import read_image

        if not inputs:
            return []
        names = tuple(run.info["class_names"])
        images = []
        for path in inputs:
            if not Path(path).is_file():
                raise DataNotFound(f"{path}: no such image file")
            try:
                images.append(read_image(Path(path)))
            except (OSError, ValueError) as err:
                raise DataError(f"{path}: not a readable image ({str(err).splitlines()[0]})") from None
        detections = self.detect_images(run.models, run.config, run.info, images,
                                        batch_size=run.config.train.batch_size)
        out_dir = run.path / "predictions"
        out_dir.mkdir(parents=True, exist_ok=True)
        results = []
        for path, image, det in zip(inputs, images, detections):
            overlay = draw.draw_detections(image, det["boxes"], det["classes"], names, scores=det["scores"],
                                           masks=det.get("masks"))
            target = out_dir / f"{Path(path).stem}.png"
            draw.save_png(target, overlay)
            results.append({"input": str(path), "overlay": str(target), "height": int(image.shape[0]),
                            "width": int(image.shape[1]),
                            "detections": draw.predictions_to_json(det, names, image.shape[0], image.shape[1])})
        return results

    def serving_function(self, config: Any, models: dict, info: dict[str, Any]):
        """uint8 images [B, H, W, 3] of any size -> detection_boxes (normalised yxyx), detection_scores,
        detection_classes (int32 1..K), num_detections and, for masks, detection_masks [B, T, H, W] in [0, 1]."""
        size = int(info["image_size"])

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
        def serve(images):
            out = self.detect(models, config, info, to_model_images(images, size))
            result = {"detection_boxes": tf.cast(out["boxes"], tf.float32),
                      "detection_scores": tf.cast(out["scores"], tf.float32),
                      "detection_classes": tf.cast(out["classes"], tf.int32),
                      "num_detections": tf.cast(out["num"], tf.int32)}
            if "masks" in out:
                masks = tf.cast(out["masks"], tf.float32)  # [B, T, S, S]
                resized = tf.image.resize(tf.transpose(masks, [0, 2, 3, 1]), tf.shape(images)[1:3])
                result["detection_masks"] = tf.transpose(resized, [0, 3, 1, 2])
            return result

        return serve


@dataclass(frozen=True)
class _Truth:
    """The ground truth of one evaluated image, as `mean_average_precision` reads an Example's boxes."""

    boxes: np.ndarray
    classes: np.ndarray
    ignore: np.ndarray


def _enlarge(array: np.ndarray, k: int, *, image: bool = False) -> np.ndarray:
    """Nearest-neighbour enlargement of an image [H, W, 3] or of masks [n, H, W] by an integer factor."""
    rows, cols = (0, 1) if image else (1, 2)
    return array if k == 1 else np.repeat(np.repeat(array, k, axis=rows), k, axis=cols)


def _masks_to_image(masks: np.ndarray, height: int, width: int) -> np.ndarray:
    """Soft masks [n, S, S] at the model's size -> uint8 {0,1} [n, H, W] at the image's size (threshold 0.5)."""
    masks = np.asarray(masks, np.float32)
    if masks.shape[1:] != (height, width):
        masks = _resize_masks(tf.constant(masks), height, width, method="bilinear").numpy()
    return (masks >= 0.5).astype(np.uint8)
