"""Detection data: the shapes generator, COCO and VOC readers on written fixtures, load_detection, to_tensors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfzoo.common.errors import DataError, DataNotFound
from tfzoo.common.testing.smoke import run_cli
from tfzoo.vision.detection import coco, shapes, voc
from tfzoo.vision.detection.dataset import load_detection, make_example, to_tensors


def _same(a, b):
    assert a.image_id == b.image_id
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.classes, b.classes)
    np.testing.assert_array_equal(a.masks, b.masks)
    np.testing.assert_array_equal(a.ignore, b.ignore)
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-6, rtol=0)


# ----- shapes ------------------------------------------------------------------------------------------
def test_make_shapes_cli_reads_back_equal(tmp_path):
    out = tmp_path / "shapes"
    code, stdout, err = run_cli("data", "make", "shapes", "--out", str(out), "--n", "6", "--size", "64")
    assert code == 0, err
    assert "annotations.json" in stdout
    assert len(list((out / "images").glob("*.png"))) == 6
    data = load_detection(f"coco:{out / 'annotations.json'}", "train")
    got, names = coco.read_coco(out / "annotations.json")
    assert names == shapes.CLASS_NAMES == data.class_names and data.has_masks
    expected = shapes.generate(6, size=64, seed=0)
    assert len(got) == 6
    for a, b in zip(got, expected):
        _same(a, b)
        assert a.source.endswith(".png")
    mask_files = sorted((out / "masks").glob("00000_*.png"))
    assert len(mask_files) == len(expected[0].classes)
    np.testing.assert_array_equal(np.asarray(Image.open(mask_files[0])) // 255, expected[0].masks[0])


def test_shapes_recipe_and_determinism():
    first = shapes.generate(40, size=64, seed=3)
    again = shapes.generate(40, size=64, seed=3)
    for a, b in zip(first, again):
        _same(a, b)
    # image i depends on (seed, i) only, not on how many were asked for
    _same(shapes.generate(5, size=64, seed=3)[4], first[4])
    assert not np.array_equal(shapes.generate(1, size=64, seed=4)[0].image, first[0].image)
    counts = [len(e.classes) for e in first]
    assert min(counts) >= 1 and max(counts) <= 4 and len(set(counts)) > 1
    classes = np.concatenate([e.classes for e in first])
    assert set(classes.tolist()) == {1, 2, 3}
    for e in first:
        assert e.image.shape == (64, 64, 3) and e.image.dtype == np.uint8
        assert e.masks.shape == (len(e.classes), 64, 64) and e.boxes.dtype == np.float32
        assert np.all(e.boxes[:, 2:] > e.boxes[:, :2]) and e.boxes.min() >= 0 and e.boxes.max() <= 1
        # masks do not overlap (occlusion) and every box is tight around its mask
        assert e.masks.sum(axis=0).max() <= 1
        for box, mask in zip(e.boxes, e.masks):
            np.testing.assert_array_equal(box, shapes.mask_box(mask))


def test_shapes_size_scaling_and_nms():
    assert shapes.buffer_for(128) == 20 and shapes.buffer_for(64) == 10
    rng = np.random.default_rng(0)
    for _ in range(50):
        _, kept = shapes.random_image(rng, 128)
        boxes = np.array([(y - s, x - s, y + s, x + s) for _, _, (x, y, s) in kept], float)
        for _, _, (x, y, s) in kept:
            assert 20 <= x <= 107 and 20 <= y <= 107 and 20 <= s <= 32
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
                union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
                assert inter / union <= 0.3


def test_load_detection_shapes_splits():
    train = load_detection("shapes", "train", image_size=64, count=8)
    val = load_detection("shapes", "val", image_size=64, count=8)
    assert len(train) == 8 and train.num_classes == 3 and train.class_names[0] == "background"
    assert load_detection("shapes", "train", image_size=64, count=8).examples is train.examples  # cached
    assert not any(np.array_equal(a.image, b.image) for a in train.examples for b in val.examples)
    assert train.examples[0].source == "shapes:seed=0:train:0"
    with pytest.raises(DataError, match="unknown detection data spec"):
        load_detection("pascal:x", "train")
    with pytest.raises(DataError, match="unknown split"):
        load_detection("shapes", "dev")
    # common's spec grammar: `?on_error=` is the one option a detection spec takes.
    assert load_detection("shapes?on_error=skip", "train", image_size=64, count=8).examples is train.examples
    with pytest.raises(DataError, match="unknown option count; detection specs take on_error"):
        load_detection("shapes?count=3", "train")


def test_to_tensors_pads_and_drops_ignore():
    example = shapes.generate(1, size=64, seed=0)[0]
    out = to_tensors(example, max_instances=6)
    n = len(example.classes)
    assert out["num"] == n and out["boxes"].shape == (6, 4) and out["masks"].shape == (6, 64, 64)
    np.testing.assert_array_equal(out["classes"][:n], example.classes)
    assert (out["classes"][n:] == 0).all() and (out["masks"][n:] == 0).all()
    ignored = make_example(image=example.image, boxes=example.boxes, classes=example.classes, masks=None,
                           ignore=np.arange(n) == 0, image_id=1, source="x")
    out = to_tensors(ignored, max_instances=6)
    assert out["num"] == n - 1 and out["masks"].sum() == 0


# ----- COCO ------------------------------------------------------------------------------------------------
def _coco_fixture(tmp_path: Path, *, annotations=None, images=None, categories=None) -> Path:
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, :, 1] = 200
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray(img[:, :, 0]).save(tmp_path / "b.png")  # grey source
    doc = {
        "images": images or [{"id": 7, "file_name": "a.png", "height": 20, "width": 30},
                             {"id": 3, "file_name": "b.png", "height": 20, "width": 30}],
        "categories": categories or [{"id": 5, "name": "cat"}, {"id": 2, "name": "dog"}],
        "annotations": annotations if annotations is not None else [
            # polygon: a 10x10 square at x 2..12, y 4..14
            {"id": 1, "image_id": 7, "category_id": 5, "bbox": [2, 4, 10, 10], "iscrowd": 0,
             "segmentation": [[2, 4, 12, 4, 12, 14, 2, 14]]},
            # uncompressed RLE (column-major counts), crowd
            {"id": 2, "image_id": 7, "category_id": 2, "bbox": [0, 0, 1, 5], "iscrowd": 1,
             "segmentation": {"size": [20, 30], "counts": [0, 5, 595]}},
            # compressed RLE
            {"id": 3, "image_id": 3, "category_id": 2, "bbox": [20, 10, 5, 5], "iscrowd": 0,
             "segmentation": coco.encode_mask(_square(20, 30, 10, 20, 5))},
        ],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(doc))
    return path


def _square(h, w, y, x, s):
    mask = np.zeros((h, w), np.uint8)
    mask[y:y + s, x:x + s] = 1
    return mask


def test_read_coco_masks_categories_crowd(tmp_path):
    examples, names = coco.read_coco(_coco_fixture(tmp_path))
    assert names == ("background", "dog", "cat")  # sorted ids 2, 5 -> classes 1, 2
    assert [e.image_id for e in examples] == [3, 7]
    b, a = examples
    assert b.image.shape == (20, 30, 3) and (b.image[..., 0] == b.image[..., 2]).all()
    np.testing.assert_array_equal(a.classes, [2, 1])
    np.testing.assert_array_equal(a.ignore, [False, True])
    np.testing.assert_allclose(a.boxes[0], [4 / 20, 2 / 30, 14 / 20, 12 / 30], atol=1e-6)
    assert a.masks[0].sum() == 100 and a.masks[0][4:14, 2:12].all()
    assert a.masks[1][:5, 0].all() and a.masks[1].sum() == 5
    np.testing.assert_array_equal(b.masks[0], _square(20, 30, 10, 20, 5))


def test_coco_round_trip_and_results(tmp_path):
    examples, names = coco.read_coco(_coco_fixture(tmp_path))
    out = coco.write_coco(tmp_path / "copy.json", examples, names)
    again, names2 = coco.read_coco(out)
    assert names2 == names
    for x, y in zip(again, examples):
        _same(x, y)
    dets = [{"boxes": e.boxes, "scores": np.ones(len(e.classes)), "classes": e.classes, "masks": e.masks}
            for e in examples]
    results = json.loads(coco.write_coco(tmp_path / "res.json", examples, names, detections=dets).read_text())
    assert len(results) == 3 and {"image_id", "category_id", "bbox", "score", "segmentation"} <= set(results[0])


def test_coco_split_rule(tmp_path):
    shapes.make(tmp_path, n=11, size=64, seed=1)
    spec = f"coco:{tmp_path / 'annotations.json'}"
    train, val, test = (load_detection(spec, s) for s in ("train", "val", "test"))
    assert [e.image_id for e in val.examples] == [5, 10] == [e.image_id for e in test.examples]
    assert len(train) == 9
    both = load_detection(f"{spec}@{tmp_path / 'images'},{tmp_path / 'annotations.json'}", "val")
    assert len(both) == 11


@pytest.mark.parametrize(
    "change, message",
    [
        ({"bbox": [25, 4, 10, 10]}, r"annotation 1 \(image 7\): bbox \[25, 4, 10, 10\] lies outside the 30x20 image"),
        ({"bbox": [2, 4, 0, 10]}, "annotation 1 .*non-positive size"),
        ({"category_id": 9}, "annotation 1 .*unknown category_id 9"),
        ({"image_id": 99}, "annotation 1: image_id 99 is not among the images"),
        ({"segmentation": [[1, 2]]}, "annotation 1 .*unreadable segmentation"),
    ],
)
def test_coco_bad_annotations(tmp_path, change, message):
    path = _coco_fixture(tmp_path)
    doc = json.loads(path.read_text())
    doc["annotations"][0].update(change)
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=message) as err:
        coco.read_coco(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    examples, _ = coco.read_coco(path, on_error="skip")  # dropped and counted
    assert sum(len(e.classes) for e in examples) == 2


def test_coco_bad_files(tmp_path, capsys):
    path = _coco_fixture(tmp_path)
    (tmp_path / "b.png").unlink()
    with pytest.raises(DataError, match=r"image 3: image file b.png not found"):
        coco.read_coco(path)
    examples, _ = coco.read_coco(path, on_error="skip")
    assert [e.image_id for e in examples] == [7] and "skipped 1" in capsys.readouterr().err
    tolerated = _coco_fixture(tmp_path, annotations=[
        {"id": 1, "image_id": 7, "category_id": 5, "bbox": [-0.5, 0, 30.8, 20], "iscrowd": 0}])
    examples, _ = coco.read_coco(tolerated)
    assert examples[1].masks is None and examples[1].boxes.min() == 0 and examples[1].boxes.max() == 1
    path.write_text("{not json")
    with pytest.raises(DataError, match="malformed JSON"):
        coco.read_coco(path)
    with pytest.raises(DataNotFound, match="no such COCO annotation file"):
        coco.read_coco(tmp_path / "absent.json")


# ----- VOC ------------------------------------------------------------------------------------------------------
_XML = """<annotation><filename>{name}.jpg</filename><size><width>40</width><height>30</height><depth>3</depth></size>
{objects}</annotation>"""
_OBJ = ("<object><name>{cls}</name><difficult>{difficult}</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        "<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>")


def _voc_fixture(root: Path, objects: dict[str, list[tuple]]) -> Path:
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, objs in objects.items():
        Image.fromarray(np.full((30, 40, 3), 90, np.uint8)).save(root / "JPEGImages" / f"{name}.jpg")
        body = "".join(_OBJ.format(cls=c, difficult=d, b=b) for c, b, d in objs)
        (root / "Annotations" / f"{name}.xml").write_text(_XML.format(name=name, objects=body))
    names = list(objects)
    (root / "ImageSets/Main/train.txt").write_text("\n".join(names[:-1]) + "\n")
    (root / "ImageSets/Main/val.txt").write_text(names[-1] + "\n")
    return root


def test_read_voc(tmp_path):
    root = _voc_fixture(tmp_path, {"000001": [("person", (1, 1, 40, 30), 0), ("dog", (11, 6, 20, 15), 1)],
                                   "000002": [("cat", (5, 5, 8, 8), 0)]})
    examples, names = voc.read_voc(root, "train")
    assert names == ("background", "cat", "dog", "person")
    (e,) = examples
    np.testing.assert_allclose(e.boxes, [[0, 0, 1, 1], [5 / 30, 10 / 40, 15 / 30, 20 / 40]], atol=1e-6)
    np.testing.assert_array_equal(e.classes, [3, 2])
    np.testing.assert_array_equal(e.ignore, [False, True])
    assert e.masks is None and e.image.shape == (30, 40, 3)
    test = load_detection(f"voc:{root}", "test")  # falls back to val
    assert len(test) == 1 and test.class_names == names and not test.has_masks
    _, given = voc.read_voc(root, "val", class_names=["cat", "dog", "person", "horse"])
    assert given[0] == "background" and len(given) == 5


@pytest.mark.parametrize(
    "objects, message",
    [
        ({"1": [("cat", (1, 1, 42, 30), 0)], "2": []}, r"1.xml: object 0 \(cat\): box .* outside the 40x30 image"),
        ({"1": [("cat", (9, 1, 5, 30), 0)], "2": []}, "non-positive size"),
        ({"1": [("zebra", (1, 1, 5, 5), 0)], "2": []}, "1.xml: object 0: unknown class 'zebra'"),
    ],
)
def test_voc_bad_objects(tmp_path, objects, message):
    root = _voc_fixture(tmp_path, objects)
    with pytest.raises(DataError, match=message) as err:
        voc.read_voc(root, "train", class_names=["cat", "dog"])
    assert "\n" not in str(err.value)
    examples, _ = voc.read_voc(root, "train", class_names=["cat", "dog"], on_error="skip")
    assert len(examples) == 1 and len(examples[0].classes) == 0


def test_voc_bad_files(tmp_path):
    root = _voc_fixture(tmp_path, {"1": [("cat", (1, 1, 5, 5), 0)], "2": []})
    (root / "JPEGImages" / "1.jpg").unlink()
    with pytest.raises(DataError, match=r"1.xml: image .*1.jpg not found"):
        voc.read_voc(root, "train")
    with pytest.raises(DataNotFound, match="no image list for split 'test'"):
        (root / "ImageSets/Main/val.txt").unlink()
        voc.read_voc(root, "test")
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            "<annotation><filename>&lol2;</filename></annotation>")
    (root / "Annotations" / "1.xml").write_text(bomb)
    with pytest.raises(DataError, match="malformed VOC XML"):
        voc.read_voc(root, "train")


def test_common_resolver_readers(tmp_path):
    from tfzoo.common.data import DataSplit
    from tfzoo.vision.detection.dataset import coco_reader, shapes_reader

    split = shapes_reader("", "val", seed=0)
    assert isinstance(split, DataSplit) and split.size == 200 and split.image_shape == (128, 128, 3)
    assert split.meta["has_masks"]
    shapes.make(tmp_path, n=3, size=64, seed=0)
    train = coco_reader(str(tmp_path / "annotations.json"), "train", seed=0)
    element = next(iter(train.dataset))
    assert train.size == 3 and element["image"].shape == (64, 64, 3) and train.class_names[1] == "square"


def test_data_check_collects_coco_problems(tmp_path, monkeypatch):
    from tfzoo.common.data import check
    from tfzoo.common.data import spec as spec_module
    from tfzoo.vision.detection.dataset import coco_reader

    monkeypatch.setitem(spec_module._readers, "coco", coco_reader)  # what the "tfzoo.data" entry point does
    path = _coco_fixture(tmp_path)
    doc = json.loads(path.read_text())
    doc["annotations"][0]["category_id"] = 9
    path.write_text(json.dumps(doc))
    report = check(f"coco:{path}")
    assert report["splits"]["train"]["count"] == 2
    # Detection records are counted as instances per class, the image shapes listed.
    from tfzoo.vision.detection.dataset import load_detection

    train = load_detection(f"coco:{path}", "train", on_error="skip")
    ids = np.concatenate([e.classes for e in train.examples])
    expected = {name: int(np.sum(ids == i)) for i, name in enumerate(train.class_names)}
    assert report["splits"]["train"]["classes"] == expected and sum(expected.values()) > 0
    shapes = sorted({tuple(e.image.shape) for e in train.examples})
    assert report["splits"]["train"]["shapes"] == [list(s) for s in shapes]
    assert len(report["errors"]) == 1 and "unknown category_id 9" in report["errors"][0]


def test_data_check_cli_reads_coco_and_voc_through_the_entry_points(tmp_path):
    """`tfzoo data check` on the "tfzoo.data" schemes vision registers (shapes is checked the same way)."""
    shapes.make(tmp_path / "coco", n=5, size=64, seed=0)
    root = _voc_fixture(tmp_path / "voc", {"000001": [("person", (1, 1, 40, 30), 0), ("dog", (11, 6, 20, 15), 1)],
                                           "000002": [("cat", (5, 5, 8, 8), 0)]})
    for spec, counts in ((f"coco:{tmp_path / 'coco' / 'annotations.json'}", {"train": 4, "val": 1, "test": 1}),
                         (f"voc:{root}?on_error=skip", {"train": 1, "val": 1, "test": 1})):
        code, out, err = run_cli("data", "check", spec)
        assert code == 0, err
        assert json.loads(out.strip().splitlines()[-1]) == {"spec": spec, "errors": 0, "counts": counts}
    code, out, _ = run_cli("data", "check", f"voc:{root}?count=1")  # reported like any unreadable split
    assert code != 0 and "unknown option count for voc:; it takes channels, on_error" in out, out
