"""The app's prediction of one frame reports its progress per tile (a large image is no frozen bar)."""

from pathlib import Path

import numpy as np

from engine_helpers import tiny_net
from mia_core.engine.checkpoint import ModelInfo
from mia_core.viewer.predict_jobs import LoadedModel, predict_frame_job


def test_frame_prediction_reports_tiles_done():
    model = tiny_net(1, 2, seed=1)
    model.eval()
    info = ModelInfo("unet", "tiny", 2, 1, ["bg", "fg"], "per-image", 64)
    frame = (np.random.default_rng(0).random((1100, 600)) * 255).astype(np.uint8)
    reports = []
    predict_frame_job(LoadedModel(Path("m"), model, info), frame, "big.png")(lambda d, n: reports.append((d, n)))
    tiles = [r for r in reports if r[1]]
    assert tiles[-1] == (6, 6)  # 512-px tiles overlapping by 64: 3 rows x 2 columns
    assert [d for d, _ in tiles] == sorted(d for d, _ in tiles) and len(tiles) >= 2
