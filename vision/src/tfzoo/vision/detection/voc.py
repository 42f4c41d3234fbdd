"""Pascal VOC: Annotations/*.xml, JPEGImages/*.jpg, ImageSets/Main/{train,val,test}.txt.

XML goes through defusedxml (it refuses entity bombs and external entities). VOC boxes are 1-based
and inclusive: pixels xmin..xmax, so the normalised box is ((ymin - 1) / H, (xmin - 1) / W, ymax / H,
xmax / W). `difficult=1` objects become ignore regions. Class names are the sorted names found in
every XML under Annotations/ (so all splits agree), or those given. A split without its list file
falls back from test to val. Bad records are one-line DataErrors naming the XML file and the object:
a box outside the image (beyond 1 pixel), xmax < xmin, an unknown class when class_names are given,
a missing JPEG, a malformed XML; `on_error="skip"` drops and counts them instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfzoo.common.errors import DataError, DataNotFound
from tfzoo.vision.detection.dataset import Example, make_example

TOLERANCE_PX = 1.0
LAYOUT = "Annotations/*.xml, JPEGImages/*.jpg, ImageSets/Main/{train,val,test}.txt"


def _parse(path: Path):
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as ET
    from defusedxml import DefusedXmlException

    try:
        return ET.parse(str(path)).getroot()
    except (ParseError, DefusedXmlException) as err:
        raise DataError(f"{path}: malformed VOC XML ({str(err).splitlines()[0]})") from None


def _text(node, tag: str, where: str) -> str:
    found = node.find(tag)
    if found is None or found.text is None or not found.text.strip():
        raise DataError(f"{where}: missing <{tag}>")
    return found.text.strip()


def split_ids(root: Path, split: str) -> list[str]:
    """Image ids of ImageSets/Main/<split>.txt (test falls back to val)."""
    folder = root / "ImageSets" / "Main"
    names = [split] + (["val"] if split == "test" else [])
    for name in names:
        path = folder / f"{name}.txt"
        if path.is_file():
            return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    raise DataNotFound(f"{folder / (split + '.txt')}: no image list for split {split!r}; a voc:DIR holds {LAYOUT}")


def class_names_of(root: Path) -> tuple[str, ...]:
    """("background", *sorted object names in every Annotations/*.xml)."""
    names = set()
    for path in sorted((root / "Annotations").glob("*.xml")):
        for obj in _parse(path).iter("object"):
            names.add(_text(obj, "name", f"{path}: object"))
    return ("background", *sorted(names))


def read_voc(root: str | Path, split: str, *, class_names: tuple[str, ...] | list[str] | None = None,
             on_error: str = "raise") -> tuple[list[Example], tuple[str, ...]]:
    """Examples of one split, in the list file's order, and the class names (index 0 "background")."""
    from tfzoo.common.data.problems import handle

    root = Path(root)
    if not (root / "Annotations").is_dir():
        raise DataNotFound(f"{root}: no Annotations/ folder; a voc:DIR holds {LAYOUT}")
    ids = split_ids(root, split)
    if class_names is None:
        names = class_names_of(root)
    else:
        names = tuple(class_names) if tuple(class_names)[:1] == ("background",) else ("background", *class_names)
    index = {name: k for k, name in enumerate(names) if k > 0}
    problems: list[str] = []
    examples = []
    for number, image_id in enumerate(ids):
        example = _example(root, image_id, number, index, problems)
        if example is not None:
            examples.append(example)
    handle(problems, on_error=on_error, where=str(root))
    return examples, names


def _example(root: Path, image_id: str, number: int, index: dict[str, int], problems: list[str]) -> Example | None:
    from tfzoo.vision.detection.coco import read_image

    xml = root / "Annotations" / f"{image_id}.xml"
    if not xml.is_file():
        problems.append(f"{xml}: annotation file not found (listed in ImageSets/Main)")
        return None
    node = _parse(xml)
    file_name = node.findtext("filename") or f"{image_id}.jpg"
    path = root / "JPEGImages" / file_name.strip()
    if not path.is_file():
        problems.append(f"{xml}: image {path} not found")
        return None
    try:
        image = read_image(path)
    except (OSError, ValueError) as err:
        problems.append(f"{xml}: cannot read {path} ({str(err).splitlines()[0]})")
        return None
    height, width = image.shape[:2]
    boxes, classes, ignore = [], [], []
    for k, obj in enumerate(node.iter("object")):
        where = f"{xml}: object {k}"
        try:
            name = _text(obj, "name", where)
            box = obj.find("bndbox")
            if box is None:
                raise DataError(f"{where} ({name}): missing <bndbox>")
            xmin, ymin, xmax, ymax = (float(_text(box, tag, f"{where} ({name})"))
                                      for tag in ("xmin", "ymin", "xmax", "ymax"))
        except (DataError, ValueError) as err:
            problems.append(str(err) if isinstance(err, DataError) else f"{where}: non-numeric box ({err})")
            continue
        if name not in index:
            problems.append(f"{where}: unknown class {name!r}; expected one of {', '.join(index)}")
            continue
        if xmax < xmin or ymax < ymin:
            problems.append(f"{where} ({name}): box xmin={xmin:g} ymin={ymin:g} xmax={xmax:g} ymax={ymax:g} "
                            "has non-positive size")
            continue
        if xmin < 1 - TOLERANCE_PX or ymin < 1 - TOLERANCE_PX or xmax > width + TOLERANCE_PX \
                or ymax > height + TOLERANCE_PX:
            problems.append(f"{where} ({name}): box xmin={xmin:g} ymin={ymin:g} xmax={xmax:g} ymax={ymax:g} "
                            f"lies outside the {width}x{height} image (VOC boxes are 1-based, inclusive)")
            continue
        boxes.append(np.clip([(ymin - 1) / height, (xmin - 1) / width, ymax / height, xmax / width], 0.0, 1.0))
        classes.append(index[name])
        ignore.append(obj.findtext("difficult", "0").strip() == "1")
    return make_example(image=image, boxes=np.array(boxes, np.float32).reshape(-1, 4), classes=classes,
                        masks=None, ignore=ignore, image_id=number + 1, source=str(path))
