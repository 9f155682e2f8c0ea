"""A model learns its object scale from its training labels and prediction postprocesses by it by
default: mia predict, mia evaluate MODEL FOLDER and the held-out score agree; old folders predict raw."""

import csv
import json
import shutil

import cv2
import numpy as np
import pytest
import tifffile
from skimage import measure

from engine_helpers import blob_image, small_config, small_registry, write_blob_folder
from mia_core.cli import main
from mia_core.engine.checkpoint import read_model_info
from mia_core.label_store import label_path, load_labels
from mia_core.object_scale import model_postprocessing


@pytest.fixture(autouse=True)
def _small_components(monkeypatch):
    import mia_core.plugins

    monkeypatch.setattr(mia_core.plugins, "load_plugins", lambda disabled=None: small_registry(disabled or ()))


def _model_copy(trained_model, tmp_path, objects):
    """The trained model's folder with its stored object scale replaced (None: removed, as before it)."""
    folder = tmp_path / "model"
    shutil.copytree(trained_model[0].model_dir, folder, ignore=shutil.ignore_patterns("checkpoint"))
    config = json.loads((folder / "config.json").read_text())
    if objects is None:
        del config["objects"]
    else:
        config["objects"] = objects
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _images(tmp_path, touching=False):
    """One blob image with a speck (and two overlapping discs when ``touching``), with its truth."""
    folder, truth = tmp_path / "images", tmp_path / "truth"
    folder.mkdir()
    truth.mkdir()
    image, classes = blob_image(np.random.default_rng(3), 128, 160, n_blobs=3)
    inst = measure.label(classes > 0, connectivity=2)
    image[100:106, 140:146] = 200  # a 36 px speck the model finds but that is no object
    if touching:
        for cx in (40, 64):
            cv2.circle(image, (cx, 100), 13, 185, -1)
            disc = np.zeros_like(classes, np.uint8)
            cv2.circle(disc, (cx, 100), 13, 1, -1)
            inst[disc > 0] = inst.max() + 1  # each disc its own object
    cv2.imwrite(str(folder / "x.png"), image)
    tifffile.imwrite(truth / "x.tif", inst.astype(np.uint16))
    return folder, truth


def _predict(model, folder, *options):
    assert main(["predict", str(model), str(folder), "--force", *options]) == 0
    return load_labels(label_path(folder / "x.png"))


def test_training_stores_the_labels_object_scale(trained_model):
    result = trained_model[0]
    sizes = []
    for p in sorted((result.model_dir.parent / "train").glob("*.png")):
        labels = load_labels(label_path(p))
        inst = labels.to_instance_map((96, 96))
        fg = [i + 1 for i, c in enumerate(labels.contours) if c.class_id == 1]
        sizes += [int(np.count_nonzero(inst == i)) for i in fg]
    stored = read_model_info(result.model_dir).objects
    assert stored == {"1": {"count": len(sizes), "median_area": float(np.median(sizes)), "touching": False}}


def test_predict_drops_specks_by_default_and_writes_raw_labels_when_turned_off(trained_model, tmp_path, capsys):
    model = trained_model[0].model_dir
    folder, _ = _images(tmp_path)
    min_size = model_postprocessing(read_model_info(model))[1].min_size
    raw = _predict(model, folder, "--min-size", "0", "--no-separate")
    assert "postprocessing: none" in capsys.readouterr().out
    assert any(c.pixel_count < min_size for c in raw.contours)  # the speck
    default = _predict(model, folder)
    assert (f"postprocessing from the model's training objects: class 1: drop under {min_size} px; "
            "--min-size 0 --no-separate turn it off") in capsys.readouterr().out
    assert [c.pixel_count for c in default.contours] == [c.pixel_count for c in raw.contours
                                                          if c.pixel_count >= min_size]


def test_touching_class_is_split_and_evaluate_scores_what_predict_writes(trained_model, tmp_path, capsys):
    stored = dict(read_model_info(trained_model[0].model_dir).objects["1"], touching=True)
    model = _model_copy(trained_model, tmp_path, {"1": stored})
    folder, truth = _images(tmp_path, touching=True)
    raw = _predict(model, folder, "--no-separate", "--min-size", "0")
    split = _predict(model, folder)
    dist = model_postprocessing(read_model_info(model))[1].min_distance
    assert f"class 1: split touching (min distance {dist} px), drop under" in capsys.readouterr().out
    assert len(split) >= len(raw)  # the discs' pair is cut, the speck dropped
    assert sum(c.pixel_count < 100 for c in split.contours) == 0
    assert len(split) == len([c for c in raw.contours if c.pixel_count >= 100]) + 1
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["evaluate", str(model), str(folder), "--truth", str(truth), "--csv", str(a)]) == 0
    assert "mia evaluate: postprocessing from the model's training objects" in capsys.readouterr().err
    assert main(["evaluate", str(folder), "--truth", str(truth), "--csv", str(b)]) == 0  # predict's labels
    assert list(csv.DictReader(a.open())) == list(csv.DictReader(b.open()))
    assert main(["evaluate", str(model), str(folder), "--truth", str(truth), "--csv", str(a),
                 "--no-separate", "--min-size", "0"]) == 0
    assert list(csv.DictReader(a.open())) != list(csv.DictReader(b.open()))


def test_old_model_folder_without_objects_predicts_unpostprocessed(trained_model, tmp_path, capsys):
    folder, _ = _images(tmp_path)
    raw = _predict(trained_model[0].model_dir, folder, "--min-size", "0", "--no-separate")
    old = _model_copy(trained_model, tmp_path, None)
    assert read_model_info(old).objects == {}
    again = _predict(old, folder)
    assert "postprocessing: none" in capsys.readouterr().out
    assert again.same_as(raw)


def test_held_out_score_is_that_of_the_postprocessed_prediction(trained_model, tmp_path, capsys):
    from mia_core.scoring import held_out_score

    model = trained_model[0].model_dir
    folder, truth = _images(tmp_path)
    assert main(["evaluate", str(model), str(folder), "--truth", str(truth)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert held_out_score(model, folder, truth, set(), trained_model[2]) == printed
    assert main(["evaluate", str(model), str(folder), "--truth", str(truth), "--min-size", "0"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] != printed  # the speck counts as an object


def test_data_summary_names_the_objects_and_the_postprocessing(tmp_path):
    from mia_core.engine.data_summary import summarise
    from mia_core.engine.dataset import prepare_training_data

    config = small_config(class_names=("background", "blobs"))
    write_blob_folder(tmp_path / "few", 2)
    data = prepare_training_data(tmp_path / "few", config)
    s = data.objects[1]
    assert s.count < 10
    line = next(x for x in summarise(data, config).lines if x.startswith("objects:"))
    assert line == (f"objects: class 1 'blobs': {s.count}, median {s.median_area:.0f} px; "
                    "no minimum size (under 10 objects labelled)")
    write_blob_folder(tmp_path / "images", 4)
    data = prepare_training_data(tmp_path / "images", config)
    s = data.objects[1]
    assert s.count >= 10
    line = next(x for x in summarise(data, config).lines if x.startswith("objects:"))
    assert line == (f"objects: class 1 'blobs': {s.count}, median {s.median_area:.0f} px; predictions will "
                    f"drop objects under {round(s.median_area / 4)} px")
