"""Training data: a bad label file is reported and skipped, the others still train."""

from __future__ import annotations

import logging

import numpy as np

from engine_helpers import write_blob_folder
from mia_core.engine.dataset import load_labelled_images
from mia_core.label_store import label_path


def test_a_bad_label_file_is_reported_and_the_others_load(tmp_path, caplog):
    written = write_blob_folder(tmp_path, 3, size=(48, 48))
    bad = label_path(written[1][0])
    np.savez(bad, arr_0=np.array(12345678910), arr_1=np.array([1, 0]),
             arr_2=np.array([[[5, 5]], [[2**33, 5]], [[5, 9]]], dtype=np.int64), arr_3=np.zeros((0, 1, 2)))
    with caplog.at_level(logging.WARNING, logger="mia"):
        samples = load_labelled_images(tmp_path)
    assert sorted(s.path.name for s in samples) == sorted(p.name for p, _ in (written[0], written[2]))
    assert any(written[1][0].name in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)
