"""vision.ssd: SSD (Liu et al. 2016) with a MobileNet-like backbone, trained from scratch on shapes, COCO or VOC."""
