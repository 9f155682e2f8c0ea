"""mia: label microscopy images and train semantic segmentation on them."""

__version__ = "0.1.0"
