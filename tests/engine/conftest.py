"""Engine-test fixtures: a folder of labelled blob images and one shared trained model."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine_helpers import small_config, small_registry, write_blob_folder


@pytest.fixture
def blob_folder(tmp_path: Path) -> Path:
    """Four labelled 96x96 blob images."""
    write_blob_folder(tmp_path / "images", 4)
    return tmp_path / "images"


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory):
    """One quality training run on blob images, shared by the tests that need a trained model.

    300 steps of the small U-Net on 64x64 patches; returns (result, held-out (path, truth) pairs,
    registry).
    """
    from mia_core.engine.train import train_folder

    root = tmp_path_factory.mktemp("quality")
    write_blob_folder(root / "train", 6, seed=1)
    held_out = write_blob_folder(root / "test", 3, seed=99, size=(160, 224), n_blobs=10)
    registry = small_registry()
    result = train_folder(root / "train", small_config(), root / "model", registry=registry)
    return result, held_out, registry
