"""``mia evaluate MODEL_DIR FOLDER --truth MASKS``: predictions scored in memory, nothing written
unless --write, and truth whose classes the model cannot predict refused by name."""

import csv

import cv2
import numpy as np
import pytest
import tifffile
from skimage import measure

from engine_helpers import blob_image, small_registry
from mia_core.cli import main
from mia_core.label_store import label_path, load_labels


@pytest.fixture(autouse=True)
def _small_components(monkeypatch):
    import mia_core.plugins

    monkeypatch.setattr(mia_core.plugins, "load_plugins", lambda disabled=None: small_registry(disabled or ()))


def _folder(tmp_path):
    images, truth = tmp_path / "images", tmp_path / "truth"
    images.mkdir()
    truth.mkdir()
    rng = np.random.default_rng(5)
    image, classes = blob_image(rng, 96, 112, n_blobs=4)
    cv2.imwrite(str(images / "x.png"), image)
    tifffile.imwrite(truth / "x.tif", measure.label(classes > 0, connectivity=2).astype(np.uint16))
    return images, truth, classes


def test_model_is_scored_in_memory_and_written_only_on_request(trained_model, tmp_path, capsys):
    model = trained_model[0].model_dir
    images, truth, classes = _folder(tmp_path)
    scores = tmp_path / "s.csv"
    assert main(["evaluate", str(model), str(images), "--truth", str(truth), "--csv", str(scores)]) == 0
    assert not label_path(images / "x.png").exists()  # nothing written
    row = next(r for r in csv.DictReader(scores.open()) if r["image"] == "x.png")
    assert main(["evaluate", str(model), str(images), "--truth", str(truth), "--write"]) == 0
    # The written labels are the scored prediction: IoU from them, computed here, is the table's.
    pred = load_labels(label_path(images / "x.png")).to_class_map(classes.shape) == 1
    t = classes > 0
    assert float(row["iou_1"]) == pytest.approx((pred & t).sum() / (pred | t).sum(), abs=1e-4)
    assert float(row["iou_1"]) > 0.8
    assert int(row["true_objects"]) == measure.label(t, connectivity=2).max()
    assert "evaluated 1 frame(s) of 1 image(s)" in capsys.readouterr().out


def test_truth_class_the_model_lacks_is_refused(trained_model, tmp_path, capsys):
    model = trained_model[0].model_dir
    images, truth, classes = _folder(tmp_path)
    tifffile.imwrite(truth / "x.tif", np.where(classes > 0, 3, 0).astype(np.uint16))
    assert main(["evaluate", str(model), str(images), "--truth", str(truth), "--truth-classes", "--write"]) == 2
    assert "truth of x.png holds class 3 but model" in capsys.readouterr().err
    assert not label_path(images / "x.png").exists()
