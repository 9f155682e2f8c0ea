"""Prediction skips images that would share a label file, naming both, and predicts the others."""

import logging

import cv2
import numpy as np
import tifffile

from engine_helpers import tiny_net
from mia_core.engine import checkpoint as ckpt
from mia_core.engine.predict import predict_folder
from mia_core.label_store import label_path


def test_clashing_images_are_skipped_with_a_warning(tmp_path, caplog):
    info = ckpt.ModelInfo(architecture="unet", backbone="tiny", num_classes=2, in_channels=1,
                          class_names=["background", "cell"], normalisation="per-image", patch_size=32)
    ckpt.save_model(tmp_path / "model", tiny_net(1, 2, seed=3), info)
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("ok.png", "one.png"):
        cv2.imwrite(str(folder / name), np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8))
    tifffile.imwrite(folder / "one.tif", np.zeros((32, 32), np.uint8))
    seen = []
    with caplog.at_level(logging.WARNING, logger="mia"):
        predict_folder(tmp_path / "model", folder, builder=lambda i: tiny_net(1, 2, seed=3),
                       include_background=True, progress=lambda done, total, name: seen.append(name))
    assert [n for n in seen if n] == ["ok.png"]
    assert label_path(folder / "ok.png").exists() and not label_path(folder / "one.png").exists()
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "one.png: skipped, one.png and one.tif would share" in text
    assert "one.tif: skipped, one.png and one.tif would share" in text
