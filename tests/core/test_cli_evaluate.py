"""``mia evaluate FOLDER --truth MASKS``: scores of label files against masks, and refused inputs."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from skimage import measure

from mia_core import cli
from mia_core.label_store import label_path, save_labels
from mia_core.raster import labels_from_class_map

H, W = 40, 60


def _mia(*argv) -> int:
    return cli.main([str(a) for a in argv])


def _setup(tmp_path: Path) -> tuple[Path, Path, dict[str, tuple[np.ndarray, np.ndarray]]]:
    images, truth = tmp_path / "images", tmp_path / "truth"
    images.mkdir()
    truth.mkdir()
    cases = {}
    inst = np.zeros((H, W), np.uint16)
    inst[5:15, 5:15], inst[5:15, 20:32], inst[25:35, 40:50] = 1, 2, 3
    pred = np.zeros((H, W), np.int16)
    pred[6:15, 5:15] = 1  # object 1 found (IoU 0.9)
    pred[5:15, 20:24] = 1  # object 2 under-segmented (IoU 1/3)
    pred[30:38, 2:9] = 1  # a false object; object 3 missed
    cases["a"] = (inst, pred)
    empty_pred = np.zeros((H, W), np.int16)
    empty_pred[0:4, 0:5] = 1  # 20 false-positive pixels on an image without objects
    cases["b"] = (np.zeros((H, W), np.uint16), empty_pred)
    for name, (t, p) in cases.items():
        cv2.imwrite(str(images / f"{name}.png"), np.full((H, W), 80, np.uint8))
        tifffile.imwrite(truth / f"{name}.tif", t)
        save_labels(label_path(images / f"{name}.png"), labels_from_class_map(p, ignore=(0,)))
    return images, truth, cases


def test_scores_follow_the_definitions(tmp_path: Path, capsys) -> None:
    images, truth, cases = _setup(tmp_path)
    out_csv = tmp_path / "scores.csv"
    assert _mia("evaluate", images, "--truth", truth, "--csv", out_csv) == 0
    printed = capsys.readouterr().out
    rows = {r["image"]: r for r in csv.DictReader(out_csv.open())}
    inst, pred = cases["a"]
    t, p = inst > 0, pred > 0
    assert float(rows["a.png"]["iou_1"]) == pytest.approx((t & p).sum() / (t | p).sum(), abs=1e-4)
    assert float(rows["a.png"]["dice_1"]) == pytest.approx(2 * (t & p).sum() / (t.sum() + p.sum()), abs=1e-4)
    assert int(rows["a.png"]["true_objects"]) == 3
    assert int(rows["a.png"]["pred_objects"]) == measure.label(p, connectivity=2).max() == 3
    # At IoU 0.5 one match: TP 1, FP 2, FN 2.
    assert float(rows["a.png"]["precision"]) == pytest.approx(1 / 3, abs=1e-4)
    assert float(rows["a.png"]["f1"]) == pytest.approx(2 / 6, abs=1e-4)
    assert float(rows["a.png"]["ap50"]) == pytest.approx(1 / 5, abs=1e-4)
    assert float(rows["a.png"]["ap75"]) == pytest.approx(1 / 5, abs=1e-4)  # IoU 0.9 >= 0.75
    assert float(rows["b.png"]["fp_pixels"]) == pytest.approx(20 / (H * W), abs=1e-4)
    assert rows["a.png"]["fp_pixels"] == "-"
    # Pooled: the false object of b counts too (TP 1, FP 3, FN 2).
    assert float(rows["ALL"]["ap50"]) == pytest.approx(1 / 6, abs=1e-4)
    assert "evaluated 2 frame(s) of 2 image(s)" in printed and "F1@0.5 0.2857" in printed
    assert "false-positive pixels on 1 empty frame(s) 0.833 %" in printed


@pytest.mark.parametrize("damage, message", [
    ("size", "is 30x20 pixels but image"),
    ("names", "no mask in --truth"),
    ("empty_file", "empty"),
    ("class_value", None),
])
def test_bad_truth_is_refused_and_nothing_written(tmp_path: Path, capsys, damage: str, message) -> None:
    images, truth, _ = _setup(tmp_path)
    if damage == "size":
        tifffile.imwrite(truth / "a.tif", np.zeros((20, 30), np.uint16))
    elif damage == "names":
        for f in truth.iterdir():
            f.rename(truth / f"x_{f.name}")
    elif damage == "empty_file":
        (truth / "a.tif").write_bytes(b"")
    else:  # --write without a model is a usage error
        message = "--write and --force need MODEL_DIR"
    extra = ("--write",) if damage == "class_value" else ()
    out_csv = tmp_path / "scores.csv"
    assert _mia("evaluate", images, "--truth", truth, "--csv", out_csv, *extra) == 2
    assert message in capsys.readouterr().err
    assert not out_csv.exists()


def _touching_pair(tmp_path: Path) -> tuple[Path, Path]:
    """Three touching discs predicted as one region, truth holding them as three objects."""
    images, truth = tmp_path / "images", tmp_path / "truth"
    images.mkdir()
    truth.mkdir()
    yy, xx = np.mgrid[:H, :W]
    inst = np.zeros((H, W), np.uint16)
    for i, x in enumerate((12, 28, 44)):
        inst[((yy - 20) ** 2 + (xx - x) ** 2 <= 64) & (inst == 0)] = i + 1
    cv2.imwrite(str(images / "pair.png"), np.full((H, W), 80, np.uint8))
    tifffile.imwrite(truth / "pair.tif", inst)
    pred = (inst > 0).astype(np.int16)
    pred[2:4, 50:52] = 1  # a 4-pixel speck
    save_labels(label_path(images / "pair.png"), labels_from_class_map(pred, ignore=(0,)))
    return images, truth


def test_separate_and_min_size_score_the_postprocessed_objects(tmp_path: Path) -> None:
    images, truth = _touching_pair(tmp_path)
    plain, post = tmp_path / "plain.csv", tmp_path / "post.csv"
    assert _mia("evaluate", images, "--truth", truth, "--csv", plain) == 0
    row = next(csv.DictReader(plain.open()))
    # Components: the merged row (IoU about 1/3 with each disc) and the speck; nothing matches.
    assert (int(row["true_objects"]), int(row["pred_objects"]), float(row["f1"])) == (3, 2, 0.0)
    assert _mia("evaluate", images, "--truth", truth, "--separate", "--min-distance", "5",
                "--min-size", "10", "--csv", post) == 0
    row = next(csv.DictReader(post.open()))
    # Split into the three discs, the speck left out: all found (the watershed lines cost a few pixels).
    assert (int(row["true_objects"]), int(row["pred_objects"]), float(row["f1"])) == (3, 3, 1.0)
    assert float(row["ap75"]) == 1.0


def test_truth_from_the_labels_of_another_folder_scores_like_masks(tmp_path: Path) -> None:
    images, truth, cases = _setup(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    from mia_core.raster import labels_from_instance_map

    for name, (inst, _) in cases.items():
        cv2.imwrite(str(other / f"{name}.png"), np.full((H, W), 80, np.uint8))
        if inst.any():
            save_labels(label_path(other / f"{name}.png"), labels_from_instance_map(inst))
        else:  # an image marked all background
            from mia_core.labels import all_background

            save_labels(label_path(other / f"{name}.png"), all_background((H, W)))
    by_masks, by_labels = tmp_path / "m.csv", tmp_path / "l.csv"
    assert _mia("evaluate", images, "--truth", truth, "--csv", by_masks) == 0
    assert _mia("evaluate", images, "--truth-labels", other, "--csv", by_labels) == 0
    assert by_labels.read_text() == by_masks.read_text()


@pytest.mark.parametrize("case, message", [
    ("no_labels", "no image in --truth-labels"),
    ("size", "is 30x20 pixels, 1 frame(s), but image"),
    ("itself", "is FOLDER itself"),
    ("both", "not allowed with argument"),
])
def test_bad_truth_labels_are_refused(tmp_path: Path, capsys, case: str, message: str) -> None:
    images, truth, _ = _setup(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    cv2.imwrite(str(other / "a.png"), np.full((20, 30) if case == "size" else (H, W), 80, np.uint8))
    if case != "no_labels":
        shape = (20, 30) if case == "size" else (H, W)
        save_labels(label_path(other / "a.png"), labels_from_class_map(np.ones(shape, np.int16), ignore=(0,)))
    target = images if case == "itself" else other
    extra = ("--truth", truth) if case == "both" else ()
    out_csv = tmp_path / "scores.csv"
    with pytest.raises(SystemExit) if case == "both" else _nothing():
        assert _mia("evaluate", images, "--truth-labels", target, "--csv", out_csv, *extra) == 2
    assert message in capsys.readouterr().err
    assert not out_csv.exists()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False
