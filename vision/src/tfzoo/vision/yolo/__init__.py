"""vision.yolo: a YOLOv3-style one-stage detector on a Darknet-53-like backbone."""
