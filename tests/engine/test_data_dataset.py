"""Reading labelled images into training samples: targets, weights, splits and clear refusals."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from engine_helpers import write_blob_folder
from mia_core.engine.border_weights import separation_weights
from mia_core.engine.config import TrainConfig
from mia_core.engine.dataset import (
    IGNORED,
    TrainingDataError,
    class_weight_table,
    load_labelled_images,
    normalise,
    prepare_training_data,
    split_by_image,
)
from mia_core.label_store import label_path, save_labels
from mia_core.labels import Contour, LabelSet


def _square(x0, y0, x1, y1, cls):
    pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.int32)
    return Contour(cls, pts)


def _write(folder: Path, name: str, pixels: np.ndarray, labels: LabelSet | None, frame=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        if name.endswith(".tif"):
            tifffile.imwrite(path, pixels, photometric="minisblack")
        else:
            cv2.imwrite(str(path), pixels)
    if labels is not None:
        save_labels(label_path(path, frame), labels)
    return path


def test_unlabelled_pixels_are_ignored_when_background_is_drawn(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (40, 50), np.uint8)
    labels = LabelSet([_square(2, 2, 10, 10, 1), _square(20, 20, 30, 30, 0)], (40, 50))
    _write(tmp_path, "a.png", img, labels)
    (s,) = load_labelled_images(tmp_path)
    assert s.target[5, 5] == 1 and s.target[25, 25] == 0
    assert s.target[35, 45] == IGNORED
    assert np.count_nonzero(s.target == IGNORED) == 40 * 50 - 81 - 121


def test_unlabelled_counts_as_background_without_background_contours(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (40, 50), np.uint8)
    _write(tmp_path, "a.png", img, LabelSet([_square(2, 2, 10, 10, 2)], (40, 50)))
    (s,) = load_labelled_images(tmp_path)
    assert s.target[5, 5] == 2
    assert np.all(s.target[s.target != 2] == 0)
    assert not np.any(s.target == IGNORED)
    # The foreground object is an instance for border weights; background is not.
    assert s.instances[5, 5] > 0 and s.instances[30, 30] == 0


def test_images_without_labels_are_skipped_and_no_labels_is_refused(tmp_path):
    img = np.zeros((40, 40), np.uint8)
    _write(tmp_path, "a.png", img, None)
    with pytest.raises(TrainingDataError, match="no labelled images"):
        prepare_training_data(tmp_path, TrainConfig(patch_size=32))
    _write(tmp_path, "b.png", img, LabelSet([_square(2, 2, 10, 10, 1)], (40, 40)))
    assert [s.path.name for s in load_labelled_images(tmp_path)] == ["b.png"]
    # An unreadable image without labels does not stop training on the others ...
    (tmp_path / "c_broken.png").write_bytes(b"not an image")
    assert [s.path.name for s in load_labelled_images(tmp_path)] == ["b.png"]
    # ... but a labelled one that cannot be read is named.
    (tmp_path / "c_broken.png").unlink()
    (tmp_path / "b.png").write_bytes(b"not an image")
    with pytest.raises(TrainingDataError, match="b.png"):
        load_labelled_images(tmp_path)


def test_normalisation_makes_8_and_16_bit_images_agree():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (20, 30)).astype(np.uint8)
    a = normalise(base)
    b = normalise(base.astype(np.uint16) * 257)
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert a.shape == (20, 30, 1)
    np.testing.assert_allclose(a.mean(), 0, atol=1e-5)
    np.testing.assert_allclose(a.std(), 1, atol=1e-4)
    rgb = normalise(rng.integers(0, 255, (10, 12, 3)).astype(np.uint8), "min-max")
    assert rgb.shape == (10, 12, 3)
    np.testing.assert_allclose(rgb.min(axis=(0, 1)), 0)
    np.testing.assert_allclose(rgb.max(axis=(0, 1)), 1)


def test_stack_frames_use_their_own_or_the_shared_label(tmp_path):
    stack = np.random.default_rng(0).integers(0, 255, (3, 40, 40), np.uint8)
    path = _write(tmp_path / "own", "s.tif", stack, LabelSet([_square(1, 1, 5, 5, 1)], (40, 40)), frame=1)
    samples = load_labelled_images(path.parent)
    assert [s.frame for s in samples] == [1]
    expect = normalise(stack[1])
    np.testing.assert_allclose(samples[0].image, expect)
    shared = _write(tmp_path / "shared", "s.tif", stack, LabelSet([_square(1, 1, 5, 5, 1)], (40, 40)))
    samples = load_labelled_images(shared.parent)
    assert [s.frame for s in samples] == [0, 1, 2]
    np.testing.assert_allclose(samples[2].image, normalise(stack[2]))


def test_split_is_by_image_and_keeps_stack_frames_together(tmp_path):
    stack = np.random.default_rng(0).integers(0, 255, (3, 40, 40), np.uint8)
    lab = LabelSet([_square(1, 1, 5, 5, 1)], (40, 40))
    for i in range(4):
        _write(tmp_path, f"s{i}.tif", stack, lab)
    samples = load_labelled_images(tmp_path)
    train, val = split_by_image(samples, 0.25, seed=3)
    assert len(val) == 3 and len(train) == 9
    assert len({s.path for s in val}) == 1
    assert not {s.path for s in val} & {s.path for s in train}
    # Deterministic for a seed; a different seed can hold out another image.
    assert [s.path for s in split_by_image(samples, 0.25, seed=3)[1]] == [s.path for s in val]
    held = {split_by_image(samples, 0.25, seed=k)[1][0].path for k in range(10)}
    assert len(held) > 1


def test_prepare_uses_validation_folder_and_counts_classes(tmp_path):
    write_blob_folder(tmp_path / "train", 2, seed=0)
    write_blob_folder(tmp_path / "val", 1, seed=5)
    data = prepare_training_data(tmp_path / "train", TrainConfig(patch_size=64, val_folder=str(tmp_path / "val")))
    assert len(data.train) == 2 and len(data.val) == 1 and not data.val_is_train
    assert data.val[0].path.parent.name == "val"
    assert data.num_classes == 2 and data.in_channels == 1
    # One labelled image: validation holds out its bottom rows; with val_fraction 0, it falls
    # back to the training image.
    write_blob_folder(tmp_path / "one", 1)
    data = prepare_training_data(tmp_path / "one", TrainConfig(patch_size=64))
    assert not data.val_is_train and data.val_rows == 19 and data.val[0].target.shape[0] == 19
    data = prepare_training_data(tmp_path / "one", TrainConfig(patch_size=64, val_fraction=0.0))
    assert data.val_is_train and data.val is data.train


def test_inverse_frequency_and_manual_class_weights():
    counts = np.array([300, 100, 0, 600])
    table = class_weight_table(TrainConfig(class_weights="inverse-frequency"), counts)
    # Rare classes weigh more; the weighted pixel mean is 1; absent classes get 0.
    np.testing.assert_allclose(table, [1000 / (3 * 300), 1000 / (3 * 100), 0, 1000 / (3 * 600)], rtol=1e-6)
    np.testing.assert_allclose((table * counts).sum() / counts.sum(), 1.0, rtol=1e-6)
    manual = class_weight_table(TrainConfig(class_weights="manual", manual_class_weights=(1, 2, 3, 4)), counts)
    np.testing.assert_allclose(manual, [1, 2, 3, 4])
    with pytest.raises(TrainingDataError, match="manual_class_weights"):
        class_weight_table(TrainConfig(class_weights="manual", manual_class_weights=(1, 2)), counts)
    assert np.all(class_weight_table(TrainConfig(), counts) == 1)


def test_weights_combine_class_and_border_terms(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (48, 48), np.uint8)
    labels = LabelSet([_square(5, 5, 15, 15, 1), _square(19, 5, 30, 15, 1), _square(16, 5, 18, 15, 0),
                      _square(0, 30, 47, 47, 0)], (48, 48))
    _write(tmp_path, "a.png", img, labels)
    cfg = TrainConfig(patch_size=32, val_fraction=0, class_weights="manual", manual_class_weights=(0.5, 2.0),
                      separate_contours=True, border_w0=10, border_sigma=5)
    data = prepare_training_data(tmp_path, cfg)
    (s,) = data.train
    # Object pixels: the class weight only.  Unlabelled pixels: 0.
    assert s.weight[10, 10] == pytest.approx(2.0)
    assert s.weight[20, 2] == 0 and s.target[20, 2] == IGNORED
    # Labelled background: class weight plus the border term computed from the two objects.
    border = separation_weights(s.instances, 10, 5)
    bg = s.target == 0
    np.testing.assert_allclose(s.weight[bg], 0.5 + border[bg], rtol=1e-6)
    assert border[bg].max() > 5  # the gap between the objects


def test_one_class_only_is_refused(tmp_path):
    img = np.zeros((40, 40), np.uint8)
    _write(tmp_path, "a.png", img, LabelSet([_square(0, 0, 39, 39, 1)], (40, 40)))
    with pytest.raises(TrainingDataError, match="only one class"):
        prepare_training_data(tmp_path, TrainConfig(patch_size=32, val_fraction=0))


def test_patch_larger_than_every_image_is_refused(tmp_path):
    write_blob_folder(tmp_path, 2, size=(70, 90))
    with pytest.raises(TrainingDataError, match=r"patch size 96 is larger than every training image.*--patch 64"):
        prepare_training_data(tmp_path, TrainConfig(patch_size=96, val_fraction=0))


def test_mixed_channels_are_refused_naming_files(tmp_path):
    lab = LabelSet([_square(1, 1, 10, 10, 1)], (40, 40))
    _write(tmp_path, "grey.png", np.zeros((40, 40), np.uint8), lab)
    _write(tmp_path, "rgb.png", np.zeros((40, 40, 3), np.uint8), lab)
    with pytest.raises(TrainingDataError, match="mix channel counts") as info:
        prepare_training_data(tmp_path, TrainConfig(patch_size=32))
    assert "grey.png has 1" in str(info.value) and "rgb.png has 3" in str(info.value)


def test_labels_beyond_num_classes_are_refused(tmp_path):
    write_blob_folder(tmp_path, 1)
    img = tmp_path / "img00.png"
    save_labels(label_path(img), LabelSet([_square(1, 1, 10, 10, 4)], (96, 96)))
    with pytest.raises(TrainingDataError, match="class 4.*num_classes"):
        prepare_training_data(tmp_path, TrainConfig(patch_size=32, num_classes=3))


def test_normalisation_ignores_nan_and_inf_pixels():
    rng = np.random.default_rng(2)
    image = rng.normal(5.0, 2.0, (30, 40)).astype(np.float32)
    image[3, 4], image[10, 11], image[20, 5] = np.nan, np.inf, -np.inf
    finite = np.isfinite(image)
    out = normalise(image)[:, :, 0]
    assert np.all(np.isfinite(out)) and np.all(out[~finite] == 0)
    expect = (image[finite] - np.nanmean(np.where(finite, image, np.nan))) / np.nanstd(np.where(finite, image, np.nan))
    np.testing.assert_allclose(out[finite], expect, rtol=1e-4, atol=1e-5)
    mm = normalise(image, "min-max")[:, :, 0]
    np.testing.assert_allclose([mm[finite].min(), mm[finite].max()], [0, 1], atol=1e-6)
    assert np.all(normalise(np.full((4, 4), np.nan, np.float32)) == 0)


def test_row_band_statistics_match_whole_image_normalisation():
    from mia_core.engine.dataset import normalisation_stats
    from mia_core.engine.predict import frame_statistics

    rng = np.random.default_rng(3)
    image = rng.normal(300.0, 7.0, (53, 20, 3)).astype(np.float32)
    image[7, 3, 1] = np.nan
    for method in ("per-image", "min-max"):
        band = frame_statistics(image, method, rows=8)
        whole = normalisation_stats(image, method)
        np.testing.assert_allclose(band[0], whole[0], rtol=1e-6)
        np.testing.assert_allclose(band[1], whole[1], rtol=1e-5)
