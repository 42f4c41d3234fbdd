"""The detection core that vision.yolo, vision.ssd and vision.mask-rcnn share.

Data: `shapes` (the generator of Mask R-CNN's sample), `coco` and `voc` readers, `dataset`
(`load_detection`, `Example`, `DetectionData`, `to_tensors`). Boxes, evaluation (VOC mAP, COCO AP)
and drawing live in `boxes`, `evaluation` and `draw`; `task.DetectorTask` is the shared task base.
Conventions: boxes are normalised yxyx float32 in [0, 1]; class ids are 1..K with 0 = background.
Import the submodules directly; this package imports nothing heavy.
"""
