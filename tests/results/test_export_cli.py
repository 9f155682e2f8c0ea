"""``mia export``: CSV and XLSX tables from a labelled folder, tracking of a stack, bad input."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from skimage.draw import disk

from mia_core.cli import main
from mia_core.label_store import label_path, save_labels
from mia_core.raster import labels_from_class_map


def _labelled_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, centres in (("a.png", [(20, 20), (60, 40)]), ("b.png", [(30, 50)])):
        img = rng.integers(0, 255, (80, 100), dtype=np.uint8)
        cv2.imwrite(str(folder / name), img)
        cm = np.full((80, 100), -1, np.int16)
        for y, x in centres:
            cm[disk((y, x), 8)] = 1
        cm[75, 95] = 2  # one pixel: below the default minimum size
        save_labels(label_path(folder / name), labels_from_class_map(cm))
    return folder


def _run(args, capsys):
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_csv_rows_columns_and_min_size(tmp_path, capsys):
    folder = _labelled_folder(tmp_path)
    out = tmp_path / "results.csv"
    rc, text, err = _run(["export", str(folder), "--out", str(out), "--columns",
                          "image,class_id,pixel_area,mean_intensity", "--disable", "none"], capsys)
    assert rc == 0, err
    assert "wrote 3 row(s)" in text and "[1/2] a.png" in err
    rows = list(csv.reader(out.open(), delimiter=";"))
    assert rows[0] == ["image", "class_id", "pixel_area", "mean_intensity"]
    assert sorted(r[0] for r in rows[1:]) == ["a.png", "a.png", "b.png"]
    img = cv2.imread(str(folder / "b.png"), cv2.IMREAD_UNCHANGED)
    m = np.zeros(img.shape, bool)
    m[disk((30, 50), 8)] = True
    (b_row,) = [r for r in rows[1:] if r[0] == "b.png"]
    assert int(b_row[2]) == m.sum() and float(b_row[3]) == pytest.approx(img[m].mean())
    # --min-size 1 keeps the one-pixel class-2 contours
    rc, *_ = _run(["export", str(folder), "--out", str(out), "--min-size", "1", "--force"], capsys)
    assert rc == 0 and len(list(csv.reader(out.open(), delimiter=";"))) == 1 + 5


def test_xlsx_objects_and_summary_sheets(tmp_path, capsys):
    from openpyxl import load_workbook

    folder = _labelled_folder(tmp_path)
    out = tmp_path / "results.xlsx"
    rc, _, err = _run(["export", str(folder), "--out", str(out), "--pixel-size", "0.5"], capsys)
    assert rc == 0, err
    wb = load_workbook(out)
    assert wb.sheetnames == ["Objects", "Summary"]
    objects = list(wb["Objects"].values)
    head = list(objects[0])
    assert head[:6] == ["image", "frame", "object", "parent", "class", "class_id"]
    assert len(objects) == 4
    size, um2 = head.index("size"), head.index("area_um2")
    for r in objects[1:]:
        assert r[size] > 100 and r[um2] == pytest.approx(r[size] * 0.25)
    summary = list(wb["Summary"].values)
    sh = list(summary[0])
    assert sh[:3] == ["image", "class", "count"]
    counts = {(r[0], r[1]): r[2] for r in summary[1:]}
    assert counts == {("a.png", "1"): 2, ("b.png", "1"): 1}
    a_sizes = [r[size] for r in objects[1:] if r[0] == "a.png"]
    (a_sum,) = [r for r in summary[1:] if r[0] == "a.png"]
    assert a_sum[sh.index("mean size")] == pytest.approx(sum(a_sizes) / 2)


def test_xlsx_one_sheet_per_class(tmp_path, capsys):
    from openpyxl import load_workbook

    from mia_core.atomic import atomic_write_text
    from mia_plugins.table_writers.xlsx_table import sheet_title

    folder = _labelled_folder(tmp_path)
    # Class 1 named with characters Excel refuses in sheet names; class 2 named like the summary.
    atomic_write_text(folder / "Segmentation_labels" / "classes.json",
                      '{"classes": [{"id": 0, "name": "bg"}, {"id": 1, "name": "nuc/lei?"}, '
                      '{"id": 2, "name": "summary"}]}')
    out = tmp_path / "per_class.xlsx"
    rc, _, err = _run(["export", str(folder), "--out", str(out), "--min-size", "1", "--sheets", "per-class"], capsys)
    assert rc == 0, err
    wb = load_workbook(out)
    assert wb.sheetnames == ["nuc_lei_", "summary (2)", "Summary"]
    nuc = list(wb["nuc_lei_"].values)
    head = list(nuc[0])
    assert len(nuc) == 1 + 3 and {r[head.index("class")] for r in nuc[1:]} == {"nuc/lei?"}
    dots = list(wb["summary (2)"].values)
    assert len(dots) == 1 + 2 and {r[head.index("pixel_area")] for r in dots[1:]} == {1}
    counts = {(r[0], r[1]): r[2] for r in list(wb["Summary"].values)[1:]}
    assert counts == {("a.png", "nuc/lei?"): 2, ("b.png", "nuc/lei?"): 1, ("a.png", "summary"): 1,
                      ("b.png", "summary"): 1}
    assert len(sheet_title("x" * 40, {"x" * 31})) == 31


def test_tracking_a_stack_numbers_objects_per_frame(tmp_path, capsys):
    folder = tmp_path / "stack"
    folder.mkdir()
    frames = np.zeros((3, 60, 80), np.uint16)
    tifffile.imwrite(folder / "s.tif", frames, photometric="minisblack")
    for t in range(3):
        cm = np.full((60, 80), -1, np.int16)
        cm[disk((20, 15 + 5 * t), 6)] = 1
        cm[disk((45, 60 - 5 * t), 6)] = 1
        save_labels(label_path(folder / "s.tif", t), labels_from_class_map(cm))
    out = tmp_path / "t.csv"
    rc, _, err = _run(["export", str(folder), "--out", str(out), "--tracking",
                       "--columns", "frame,object,centroid_y"], capsys)
    assert rc == 0, err
    rows = list(csv.DictReader(out.open(), delimiter=";"))
    assert len(rows) == 6 and {r["frame"] for r in rows} == {"0", "1", "2"}
    top = {r["object"] for r in rows if float(r["centroid_y"]) < 30}
    bottom = {r["object"] for r in rows if float(r["centroid_y"]) > 30}
    assert len(top) == 1 and len(bottom) == 1 and top != bottom


def test_tracking_single_images_follows_natural_order(tmp_path, capsys):
    folder = tmp_path / "singles"
    folder.mkdir()
    for t, n in enumerate((1, 2, 10)):  # by name img10 sorts before img2
        cv2.imwrite(str(folder / f"img{n}.png"), np.zeros((60, 80), np.uint8))
        cm = np.full((60, 80), -1, np.int16)
        cm[disk((20, 15 + 8 * t), 7)] = 1
        save_labels(label_path(folder / f"img{n}.png"), labels_from_class_map(cm))
    out = tmp_path / "t.csv"
    # 10 px: img1 -> img2 -> img10 link (8 px steps); img1 -> img10 (16 px) would not
    rc, _, err = _run(["export", str(folder), "--out", str(out), "--tracking", "--max-distance", "10",
                       "--columns", "image,object"], capsys)
    assert rc == 0, err
    rows = list(csv.DictReader(out.open(), delimiter=";"))
    assert {r["object"] for r in rows} == {"1"} and len(rows) == 3


def test_separate_splits_before_measuring(tmp_path, capsys):
    folder = tmp_path / "sep"
    folder.mkdir()
    cv2.imwrite(str(folder / "n.png"), np.zeros((80, 120), np.uint8))
    cm = np.full((80, 120), -1, np.int16)
    cm[disk((40, 35), 22)] = 1
    cm[disk((40, 78), 22)] = 1
    save_labels(label_path(folder / "n.png"), labels_from_class_map(cm))
    out = tmp_path / "s.csv"
    assert _run(["export", str(folder), "--out", str(out)], capsys)[0] == 0
    assert len(out.read_text().splitlines()) == 2
    assert _run(["export", str(folder), "--out", str(out), "--separate", "--force"], capsys)[0] == 0
    assert len(out.read_text().splitlines()) == 3


def test_bad_input(tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    cv2.imwrite(str(folder / "x.png"), np.zeros((10, 10), np.uint8))
    out = tmp_path / "r.csv"
    rc, text, _ = _run(["export", str(folder), "--out", str(out)], capsys)
    assert rc == 0 and "header only" in text
    assert out.read_text().startswith("image;frame;object")
    assert len(out.read_text().splitlines()) == 1
    rc, _, err = _run(["export", str(folder), "--out", str(out)], capsys)
    assert rc == 2 and "--force" in err
    rc, _, err = _run(["export", str(folder), "--out", str(tmp_path)], capsys)
    assert rc == 2 and "is a folder" in err
    rc, _, err = _run(["export", str(folder), "--out", str(tmp_path / "nope" / "r.csv")], capsys)
    assert rc == 2 and "does not exist" in err
    rc, _, err = _run(["export", str(folder), "--out", str(tmp_path / "r.txt")], capsys)
    assert rc == 2 and ".csv" in err and ".xlsx" in err
    rc, _, err = _run(["export", str(folder), "--out", str(tmp_path / "q.csv"), "--columns", "area,image"], capsys)
    assert rc == 2 and "unknown column(s) area" in err and "pixel_area" in err
    assert not (tmp_path / "q.csv").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_fails_before_work(tmp_path, capsys):
    folder = _labelled_folder(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        rc, _, err = _run(["export", str(folder), "--out", str(locked / "r.csv")], capsys)
    finally:
        locked.chmod(0o700)
    assert rc == 2 and "permission denied" in err and "[1/" not in err
