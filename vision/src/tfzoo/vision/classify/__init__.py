"""vision.classify: the book's image classifiers (实例21-66) on any image dataset."""
