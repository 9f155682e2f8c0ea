"""``mia train --weights``: the encoder's input normalisation, and clear refusals before any data is read."""

from __future__ import annotations

import numpy as np
import pytest

from mia_core import weights
from mia_core.engine.config import ConfigError, TrainConfig
from mia_core.engine.dataset import normalise


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))


IMAGENET = {"mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375], "order": "RGB"}


def test_encoder_normalisation_is_torchvisions_on_8_bit_rgb():
    rgb = np.random.default_rng(0).integers(0, 256, (4, 5, 3)).astype(np.uint8)
    # torchvision: ToTensor (x / 255) then Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    want = (rgb / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    assert np.allclose(normalise(rgb, "encoder", IMAGENET), want, atol=1e-5)


def test_encoder_normalisation_of_grey_16_bit_and_bgr():
    grey = np.array([[0, 1000], [2000, 4000]], np.uint16)
    out = normalise(grey, "encoder", IMAGENET)
    assert out.shape == (2, 2, 1)
    # stretched to 0..255, then the channel-averaged mean and std (the summed first-layer filters)
    assert np.allclose(out[..., 0], (grey / 4000 * 255 - np.mean(IMAGENET["mean"])) / np.mean(IMAGENET["std"]), atol=1e-4)
    bgr = normalise(np.array([[[10, 20, 30]]], np.uint8), "encoder", {"mean": [1, 2, 3], "std": [1, 1, 1], "order": "BGR"})
    assert np.allclose(bgr[0, 0], [29, 18, 7])


def test_unfetched_weights_are_refused_with_the_fetch_command(tmp_path):
    from mia_core.engine.train import train_folder

    config = TrainConfig(backbone="mobilenetv2", weights="imagenet", epochs=1, steps_per_epoch=1)
    with pytest.raises(ConfigError, match="not fetched yet: run `mia weights fetch mobilenetv2-imagenet`"):
        train_folder(tmp_path, config, tmp_path / "model")


def test_weights_a_backbone_does_not_have_are_refused_listing_what_it_has(tmp_path):
    from mia_core.engine.train import train_folder

    config = TrainConfig(backbone="mobilenetv2", weights="coco", epochs=1, steps_per_epoch=1)
    with pytest.raises(ConfigError, match="unknown weights 'coco' for backbone mobilenetv2; backbone mobilenetv2 has: imagenet"):
        train_folder(tmp_path, config, tmp_path / "model")
    config = TrainConfig(backbone="resnet18", weights="mobilenetv2-imagenet", epochs=1, steps_per_epoch=1)
    with pytest.raises(ConfigError, match="are for backbone 'mobilenetv2', not 'resnet18'"):
        train_folder(tmp_path, config, tmp_path / "model")


def test_training_starts_from_cached_encoder_weights_and_saves_their_normalisation(tmp_path):
    """Imported weights for the plain encoder: the trained model's encoder starts from them (a
    vanishing learning rate keeps them), and config.json carries the encoder normalisation."""
    import json

    import jax
    from flax import nnx

    from engine_helpers import write_blob_folder
    from mia_core.engine.pretrained import _numpy_tree
    from mia_core.engine.train import train_folder
    from mia_core.plugins import load_plugins

    registry = load_plugins()
    donor = registry.get("backbones", "plain").build(3, nnx.Rngs(7))
    arrays = {"format": "backbone", "encoder": _numpy_tree(nnx.to_pure_dict(nnx.state(donor)))}
    norm = {"mean": [10.0, 20.0, 30.0], "std": [2.0, 3.0, 4.0], "order": "RGB"}
    weights.save("plain-lab", arrays, {"format": weights.FORMAT, "name": "plain-lab", "backbone": "plain",
                                       "normalisation": norm})
    folder = tmp_path / "data"
    write_blob_folder(folder, 2, size=(64, 64))
    config = TrainConfig(backbone="plain", weights="plain-lab", epochs=1, steps_per_epoch=1, batch_size=2,
                         patch_size=64, learning_rate=1e-12, early_stopping=0, max_val_patches=2)
    result = train_folder(folder, config, tmp_path / "model", registry=registry)
    saved = json.loads((tmp_path / "model" / "config.json").read_text())
    assert saved["normalisation"] == "encoder" and saved["input_normalisation"] == norm
    # grey images: the donor's RGB first-layer filters, summed
    donor_leaves = jax.tree_util.tree_leaves(nnx.to_pure_dict(nnx.state(donor, nnx.Param)))
    got_leaves = jax.tree_util.tree_leaves(nnx.to_pure_dict(nnx.state(result.model.encoder, nnx.Param)))
    first = [i for i, (d, g) in enumerate(zip(donor_leaves, got_leaves)) if np.shape(d) != np.shape(g)]
    assert len(first) == 1
    assert np.allclose(got_leaves[first[0]], np.asarray(donor_leaves[first[0]]).sum(axis=2, keepdims=True), atol=1e-5)
    others = [i for i in range(len(donor_leaves)) if i not in first]
    assert all(np.allclose(got_leaves[i], donor_leaves[i], atol=1e-5) for i in others)
