"""vision.transfer: slim-style transfer learning (实例85-86) on a keras.applications backbone."""
