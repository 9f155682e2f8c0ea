"""The engine learns: a small U-Net trained for a few hundred steps segments held-out blob images."""

import numpy as np

from mia_core.engine.checkpoint import load_model, read_model_info
from mia_core.engine.predict import TileSettings, predict_frame, tile_probabilities
from mia_core.engine.dataset import normalise
from mia_core.images import read_image


def _foreground_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    p, t = pred == 1, truth == 1
    return np.count_nonzero(p & t) / np.count_nonzero(p | t)


def test_foreground_iou_on_held_out_images_in_eval_mode(trained_model):
    result, held_out, registry = trained_model
    assert result.reason == "completed" and result.global_step == 300
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    model = result.model
    ious = []
    for path, truth in held_out:
        pred = predict_frame(model, read_image(path)[0], result.info, source=path.name)
        ious.append(_foreground_iou(pred, truth))
    assert min(ious) > 0.9, ious


def test_saved_model_reloads_and_predicts_identically(trained_model):
    result, held_out, registry = trained_model
    info = read_model_info(result.model_dir)
    assert (info.architecture, info.backbone, info.num_classes, info.in_channels) == ("unet_small", "plain_small", 2, 1)
    assert info.normalisation == "per-image" and info.patch_size == 64
    reloaded, _ = load_model(result.model_dir, registry)
    image = normalise(read_image(held_out[0][0])[0])
    a = tile_probabilities(result.model, image, TileSettings())
    b = tile_probabilities(reloaded, image, TileSettings())
    np.testing.assert_array_equal(a, b)
