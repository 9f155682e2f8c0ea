"""Predicting folders with a trained model: contours in the label store, stacks per frame, no overwrite."""

import threading

import cv2
import numpy as np
import pytest
import tifffile

from engine_helpers import blob_image
from mia_core.engine.predict import PredictionError, predict_folder
from mia_core.label_store import label_path, load_labels


def _iou(a, b):
    return np.count_nonzero((a == 1) & (b == 1)) / np.count_nonzero((a == 1) | (b == 1))


def test_folder_with_images_and_a_stack(trained_model, tmp_path):
    result, _, registry = trained_model
    rng = np.random.default_rng(7)
    single, truth_single = blob_image(rng, 150, 130, n_blobs=5)
    cv2.imwrite(str(tmp_path / "single.png"), single)
    frames = [blob_image(rng, 96, 128, n_blobs=4) for _ in range(2)]
    tifffile.imwrite(tmp_path / "stack.tif", np.stack([f[0] for f in frames]), photometric="minisblack")
    seen = []
    written = predict_folder(result.model_dir, tmp_path, registry=registry,
                             progress=lambda done, total, name: seen.append((done, total, name))).written
    assert sorted(p.name for p in written) == ["single.npz", "stack_frame0000.npz", "stack_frame0001.npz"]
    assert seen[0] == (0, 2, "single.png") and seen[-1] == (2, 2, "")
    labels = load_labels(label_path(tmp_path / "single.png"))
    assert labels.class_ids() == [1]  # background is not written by default
    assert _iou(labels.to_class_map((150, 130)), truth_single) > 0.9
    for f, (_, truth) in enumerate(frames):
        got = load_labels(label_path(tmp_path / "stack.tif", f)).to_class_map((96, 128))
        assert _iou(got, truth) > 0.9
    assert not label_path(tmp_path / "stack.tif").exists()


def test_existing_labels_are_kept_without_force(trained_model, tmp_path):
    result, _, registry = trained_model
    rng = np.random.default_rng(8)
    cv2.imwrite(str(tmp_path / "a.png"), blob_image(rng, 64, 64)[0])
    cv2.imwrite(str(tmp_path / "b.png"), blob_image(rng, 64, 64)[0])
    predict_folder(result.model_dir, tmp_path, registry=registry, include_background=True)
    target = label_path(tmp_path / "a.png")
    assert 0 in load_labels(target).class_ids()
    before = target.read_bytes()
    with pytest.raises(PredictionError, match=r"2 label file\(s\) already exist.*force=True"):
        predict_folder(result.model_dir, tmp_path, registry=registry)
    assert target.read_bytes() == before
    predict_folder(result.model_dir, tmp_path, registry=registry, force=True)
    assert load_labels(target).class_ids() == [1]


def test_stop_flag_and_empty_folder(trained_model, tmp_path):
    result, _, registry = trained_model
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((64, 64), np.uint8))
    stop = threading.Event()
    stop.set()
    assert predict_folder(result.model_dir, tmp_path, registry=registry, stop=stop).predicted == 0
    (tmp_path / "empty").mkdir()
    with pytest.raises(PredictionError, match="no images in"):
        predict_folder(result.model_dir, tmp_path / "empty", registry=registry)


def test_float_image_with_nan_and_inf_pixels_is_predicted(trained_model, tmp_path):
    result, _, registry = trained_model
    image, truth = blob_image(np.random.default_rng(12), 96, 128, n_blobs=4)
    pixels = image.astype(np.float32) / 255.0
    pixels[5, 7], pixels[40, 2], pixels[90, 100] = np.nan, np.inf, -np.inf
    tifffile.imwrite(tmp_path / "float.tif", pixels)
    done = predict_folder(result.model_dir, tmp_path, registry=registry)
    assert [p.name for p in done.written] == ["float.npz"] and not done.failed and not done.empty
    got = load_labels(label_path(tmp_path / "float.tif")).to_class_map((96, 128))
    assert _iou(got, truth) > 0.85


def test_an_image_that_cannot_be_predicted_is_recorded_and_the_others_go_on(trained_model, tmp_path):
    result, _, registry = trained_model
    rng = np.random.default_rng(13)
    cv2.imwrite(str(tmp_path / "a.png"), blob_image(rng, 64, 64)[0])
    cv2.imwrite(str(tmp_path / "b_rgb.png"), np.zeros((64, 64, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "c.png"), blob_image(rng, 64, 64)[0])
    cv2.imwrite(str(tmp_path / "d_flat.png"), np.full((64, 64), 60, np.uint8))
    tiles = []
    done = predict_folder(result.model_dir, tmp_path, registry=registry,
                          tile_progress=lambda name, d, n: tiles.append((name, d, n)))
    assert sorted(p.name for p in done.written) == ["a.npz", "c.npz"]
    assert [name for name, _ in done.failed] == ["b_rgb.png"]
    assert "3 channel(s)" in done.failed[0][1]
    assert done.empty == ["d_flat.png"] and done.predicted == 3
    assert ("a.png", 1, 1) in tiles
