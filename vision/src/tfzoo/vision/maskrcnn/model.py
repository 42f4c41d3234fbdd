"""Mask R-CNN's networks: RPN, box classifier and mask head, and the inference model that joins them.

`build_model` returns one functional model, image -> detections and masks, whose nested models
(`backbone`, `rpn`, `mrcnn_classifier`, `mrcnn_mask_head`) the training step calls directly, so
training and inference share every weight. Layer names keep the book's prefixes (`fpn_`, `rpn_`,
`mrcnn_`) because the training stages select variables by them (config.STAGE_LAYERS).
"""

from __future__ import annotations

import keras
from keras import layers

from tfzoo.vision.backbones_resnet import resnet_fpn
from tfzoo.vision.maskrcnn.config import MaskRCNNConfig
from tfzoo.vision.maskrcnn.layers import DetectionLayer, MaskSelect, ProposalLayer, PyramidROIAlign


def build_rpn(*, channels: int, conv: int, anchors_per_cell: int) -> keras.Model:
    """Shared over P2..P6: feature [h, w, C] -> logits [h*w*A, 2], deltas [h*w*A, 4] (row, column, ratio)."""
    feature = keras.Input((None, None, channels), name="feature")
    x = layers.Conv2D(conv, 3, padding="same", activation="relu", name="rpn_conv_shared")(feature)
    logits = layers.Conv2D(2 * anchors_per_cell, 1, name="rpn_class_raw")(x)
    deltas = layers.Conv2D(4 * anchors_per_cell, 1, name="rpn_bbox_pred")(x)
    logits = layers.Reshape((-1, 2), name="rpn_class_logits")(logits)
    deltas = layers.Reshape((-1, 4), name="rpn_bbox")(deltas)
    return keras.Model(feature, [logits, deltas], name="rpn")


def build_classifier(*, channels: int, pool: int, units: int, num_classes: int) -> keras.Model:
    """Pooled ROIs [N, 7, 7, C] -> class logits [N, K+1] and per-class deltas [N, K+1, 4].

    The book's two FC-1024 layers are a 7x7 valid convolution and a 1x1 one; here they are Dense
    layers on the flattened ROI, the same function with the same weights (a conv kernel reshaped to
    [7*7*C, units]), because TF's CPU gradient of a 7x7 valid convolution is ~60x slower than a
    matrix product's and made up most of a training step.
    """
    pooled = keras.Input((pool, pool, channels), name="pooled")
    x = layers.Flatten(name="mrcnn_pool_flatten")(pooled)
    x = layers.Dense(units, name="mrcnn_class_fc1")(x)
    x = layers.ReLU(name="mrcnn_class_relu1")(layers.BatchNormalization(name="mrcnn_class_bn1")(x))
    x = layers.Dense(units, name="mrcnn_class_fc2")(x)
    x = layers.ReLU(name="mrcnn_class_relu2")(layers.BatchNormalization(name="mrcnn_class_bn2")(x))
    logits = layers.Dense(num_classes + 1, name="mrcnn_class_logits")(x)
    deltas = layers.Dense((num_classes + 1) * 4, name="mrcnn_bbox_fc")(x)
    deltas = layers.Reshape((num_classes + 1, 4), name="mrcnn_bbox")(deltas)
    return keras.Model(pooled, [logits, deltas], name="mrcnn_classifier")


def build_mask_head(*, channels: int, pool: int, conv: int, num_classes: int) -> keras.Model:
    """Pooled ROIs [N, 14, 14, C] -> mask logits [N, 28, 28, K+1] (4 x conv3x3, deconv, 1x1 per class)."""
    pooled = keras.Input((pool, pool, channels), name="pooled")
    x = pooled
    for i in range(1, 5):
        x = layers.Conv2D(conv, 3, padding="same", name=f"mrcnn_mask_conv{i}")(x)
        x = layers.ReLU(name=f"mrcnn_mask_relu{i}")(layers.BatchNormalization(name=f"mrcnn_mask_bn{i}")(x))
    x = layers.Conv2DTranspose(conv, 2, strides=2, activation="relu", name="mrcnn_mask_deconv")(x)
    logits = layers.Conv2D(num_classes + 1, 1, name="mrcnn_mask")(x)
    return keras.Model(pooled, logits, name="mrcnn_mask_head")


def anchors_config(config: MaskRCNNConfig) -> dict:
    return {"image_size": config.image_size, "scales": list(config.anchor_scales),
            "ratios": [float(r) for r in config.anchor_ratios], "stride": config.anchor_stride}


def build_model(config: MaskRCNNConfig, num_classes: int) -> keras.Model:
    """Image float32 [S, S, 3] in [0, 1] -> {"detections" [B, T, 6] (y1, x1, y2, x2, class, score),
    "num" [B], "masks" [B, T, 28, 28] (the detected class's mask inside its box)}."""
    s, c = config.image_size, config.fpn_channels
    backbone = resnet_fpn(image_size=s, arch=config.backbone, width=config.width, depth=config.depth, fpn_channels=c,
                          train_bn=config.train_bn, weights_file=config.backbone_weights)
    rpn = build_rpn(channels=c, conv=config.rpn_conv, anchors_per_cell=len(config.anchor_ratios))
    classifier = build_classifier(channels=c, pool=config.pool_size, units=config.fc_units, num_classes=num_classes)
    mask_head = build_mask_head(channels=c, pool=config.mask_pool_size, conv=config.mask_channels,
                                num_classes=num_classes)
    image = keras.Input((s, s, 3), name="image")
    features = backbone(image)
    outputs = [rpn(p) for p in features]
    logits = layers.Concatenate(axis=1, name="rpn_class_all")([o[0] for o in outputs])
    deltas = layers.Concatenate(axis=1, name="rpn_bbox_all")([o[1] for o in outputs])
    probs = layers.Softmax(name="rpn_probs")(logits)
    rois = ProposalLayer(anchors_config=anchors_config(config), count=config.proposals_inference,
                         pre_nms=config.pre_nms_limit, iou=config.rpn_nms, name="proposals")(probs, deltas)
    pooled = PyramidROIAlign(pool_size=config.pool_size, image_size=s, name="roi_align")(rois, features[:4])
    class_logits, class_deltas = classifier(pooled)
    packed, num = DetectionLayer(min_confidence=config.min_confidence, nms=config.detection_nms,
                                 max_detections=config.max_detections, name="detections")(
        rois, class_logits, class_deltas)
    boxes = _Boxes(name="detection_boxes")(packed)
    mask_pooled = PyramidROIAlign(pool_size=config.mask_pool_size, image_size=s, name="roi_align_mask")(
        boxes, features[:4])
    masks = MaskSelect(name="mask_select")(mask_head(mask_pooled), packed)
    return keras.Model(image, {"detections": packed, "num": num, "masks": masks}, name="mask_rcnn")


@keras.saving.register_keras_serializable(package="tfzoo.maskrcnn")
class _Boxes(layers.Layer):
    """The yxyx columns of packed detections."""

    def call(self, packed):
        return packed[..., :4]

    def compute_output_shape(self, shape):
        return (*shape[:-1], 4)


def leaf_layers(model: keras.Model):
    """Every non-model layer inside `model`, depth first."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from leaf_layers(layer)
        else:
            yield layer
