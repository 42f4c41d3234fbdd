"""Vision fault cases (collected by the Reliability benchmark): each ends in a non-zero exit and one
line naming the file and what was expected, or works as documented."""

import json

import numpy as np
import pytest
from PIL import Image

from tfzoo.common.errors import DataError
from tfzoo.common.testing import run_cli
from tfzoo.vision.detection import coco


def _one_line_error(code, err):
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert code != 0 and len(lines) == 1 and "Traceback" not in err, (code, err)
    return lines[0]


def _coco(tmp_path, *, images, annotations):
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "a.png")
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "square"}]}))
    return path


@pytest.mark.parametrize("entry", ["a.png", 7, None, ["a.png"]])
def test_coco_image_entry_that_is_not_an_object_is_one_line(tmp_path, entry):
    path = _coco(tmp_path, images=[entry], annotations=[])
    with pytest.raises(DataError, match="image entry .*expected an id and a file_name") as err:
        coco.read_coco(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("ann", ["box", 3, None, [1, 2, 3, 4]])
def test_coco_annotation_that_is_not_an_object_is_one_line(tmp_path, ann):
    image = {"id": 1, "file_name": "a.png", "height": 20, "width": 30}
    path = _coco(tmp_path, images=[image], annotations=[ann])
    with pytest.raises(DataError, match=r"annotation #0 .*expected an object") as err:
        coco.read_coco(path)
    assert "\n" not in str(err.value)
    examples, _ = coco.read_coco(path, on_error="skip")  # skipped and counted, the image kept
    assert len(examples) == 1


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("classify") / "run"
    code, _, err = run_cli("train", "vision.classify", "--tiny", "--run-dir", str(run_dir), "--set", "train.steps=1")
    assert code == 0, err
    return run_dir


@pytest.mark.parametrize("kind", ["directory", "text named .png", "empty .png", "missing"])
def test_predict_on_what_is_not_an_image_is_one_line(classify_run, tmp_path, kind):
    target = tmp_path / "input.png"
    if kind == "directory":
        target.mkdir()
    elif kind == "text named .png":
        target.write_text("this is not an image\n")
    elif kind == "empty .png":
        target.write_bytes(b"")
    line = _one_line_error(*run_cli("predict", str(classify_run), str(target))[::2])
    assert "input.png" in line and "{{" not in line and "[Op:" not in line
