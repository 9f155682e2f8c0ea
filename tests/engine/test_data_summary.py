"""The data summary before training: kinds of images, pixels per class, what validation means, warnings."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mia_core.engine.config import TrainConfig
from mia_core.engine.data_summary import summarise
from mia_core.engine.dataset import prepare_training_data
from mia_core.label_store import label_path, save_labels
from mia_core.labels import all_background
from mia_core.raster import labels_from_class_map

from engine_helpers import write_blob_folder


def _config(**changes) -> TrainConfig:
    config = TrainConfig(patch_size=32, **changes)
    config.validate()
    return config


def test_negatives_and_held_out_validation_are_stated(tmp_path: Path) -> None:
    pairs = write_blob_folder(tmp_path, 3, size=(48, 48))
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.full((48, 48), 60, np.uint8))
    save_labels(label_path(empty), all_background((48, 48)))
    config = _config(val_fraction=0.25)
    data = prepare_training_data(tmp_path, config)
    summary = summarise(data, config)
    text = "\n".join(summary.lines)
    negatives = sum(1 for s in data.train if s.path == empty)
    assert f"{len(data.train) - negatives} with foreground, {negatives} all background" in text
    assert "validation: on 1 image(s) held out of 4" in text
    foreground = sum(int((t > 0).sum()) for p, t in pairs if p in {s.path for s in data.train})
    assert f"1: {foreground} (" in text
    assert f"patches per epoch: {config.steps_per_epoch * config.batch_size}" in text


def test_single_image_holds_out_a_region_that_does_not_train(tmp_path: Path) -> None:
    pairs = write_blob_folder(tmp_path, 1, size=(60, 48))
    config = _config(val_fraction=0.2)
    data = prepare_training_data(tmp_path, config)
    assert not data.val_is_train and data.val_rows == 12
    (train,), (val,) = data.train, data.val
    truth = pairs[0][1]
    assert np.all(train.target[48:] < 0) and np.all(train.weight[48:] == 0)  # held-out rows never train
    np.testing.assert_array_equal(train.target[:48], truth[:48])
    np.testing.assert_array_equal(val.target, truth[48:])
    summary = summarise(data, config)
    assert any("held-out region of the single image, its bottom 12 rows" in line for line in summary.lines)
    assert not summary.warnings


def test_validation_on_training_data_warns(tmp_path: Path) -> None:
    write_blob_folder(tmp_path, 1, size=(48, 48))
    config = _config(val_fraction=0.0)
    summary = summarise(prepare_training_data(tmp_path, config), config)
    assert any("falls back to the training data" in w for w in summary.warnings)
    assert any("on the training images themselves" in line for line in summary.lines)


def test_instance_numbers_as_classes_and_class_missing_from_validation_warn(tmp_path: Path) -> None:
    for i in range(2):
        path = tmp_path / f"img{i}.png"
        cv2.imwrite(str(path), np.full((40, 40), 50 + i, np.uint8))
        classes = np.zeros((40, 40), np.int16)
        if i == 0:  # eight 3x3 "objects", each its own class, as an instance mask read as classes
            for k in range(1, 9):
                row, col = 2 + (k % 4) * 9, 2 + (k // 4) * 9
                classes[row : row + 3, col : col + 3] = k
        else:
            classes[10:20, 10:20] = 1
        save_labels(label_path(path), labels_from_class_map(classes, ignore=(-1,)))
    config = _config(val_folder=str(tmp_path))
    data = prepare_training_data(tmp_path, config)
    summary = summarise(data, config)
    warnings = "\n".join(summary.warnings)
    assert "classes have fewer than" in warnings and "--instances" in warnings
    # Every image is also the validation folder here, so no class is missing; with the one-class
    # image alone as validation, classes 2..8 are.
    assert "do not occur in the validation" not in warnings
    data.val = [s for s in data.val if s.path.name == "img1.png"]
    warnings = "\n".join(summarise(data, config).warnings)
    assert "class(es) 2, 3, 4, 5, 6, 7, 8 do not occur in the validation" in warnings
