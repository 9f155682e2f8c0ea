"""The architectures (U-Net, FPN, LinkNet, PSPNet, DeepLabv3+): logits of the input size with
gradients reaching their parameters, every backbone family served or refused by name, and (with
the reference extra) the parameter counts of segmentation_models_pytorch on ResNet-34."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from mia_core.engine.model import build_model, incompatibility
from mia_plugins.architectures.deeplabv3plus import DeepLabV3PlusArchitecture
from mia_plugins.architectures.fpn import FPNArchitecture
from mia_plugins.architectures.linknet import LinkNetArchitecture
from mia_plugins.architectures.pspnet import PSPNetArchitecture
from mia_plugins.architectures.unet import UNetArchitecture
from mia_plugins.backbones.mobilenet import MobileNetV2Backbone
from mia_plugins.backbones.plain import PlainBackbone
from mia_plugins.backbones.resnet import ResNetBackbone
from mia_plugins.backbones.inception import InceptionBackbone
from mia_plugins.backbones.vgg import VGGBackbone
from mia_plugins.backbones.xception import XceptionBackbone

FAST_COMPILE = {"xla_backend_optimization_level": 0}
SMALL_ARCHS = {
    "unet": UNetArchitecture(decoder_channels=(16, 8, 8, 8, 8)),
    "fpn": FPNArchitecture(pyramid_channels=16, segmentation_channels=8),
    "linknet": LinkNetArchitecture(prefinal_channels=8),
    "pspnet": PSPNetArchitecture(out_channels=16),
    "deeplabv3plus": DeepLabV3PlusArchitecture(channels=16, skip_channels=8),
}
SMALL_BACKBONES = {
    "plain": PlainBackbone(width=0.25),
    "resnet18": ResNetBackbone("resnet18", (2, 2, 2, 2), width=0.125),
    "vgg16": VGGBackbone(width=0.125),
    "mobilenetv2": MobileNetV2Backbone(width=0.25),
    # no width multiplier: at full width, shapes only
    "inceptionv3": InceptionBackbone("inceptionv3", "v3"),
    "xception": XceptionBackbone(),
}
#: Backbones that downsample by pooling and so cannot dilate (DeepLabv3+ refuses them, as smp)
CANNOT_DILATE = {"vgg16", "inceptionv3", "xception"}


def _forward_shape(model, shape):
    graphdef, state = nnx.split(model)
    return jax.eval_shape(lambda s, v: nnx.merge(graphdef, s)(v), state, jax.ShapeDtypeStruct(shape, jnp.float32))


@pytest.mark.parametrize("arch", sorted(SMALL_ARCHS))
def test_small_forward_gives_logits_of_input_size_and_gradients_reach_the_decoder(arch):
    model = SMALL_ARCHS[arch].build(SMALL_BACKBONES["resnet18"], 3, 4, nnx.Rngs(0))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, 64, 64, 3)), jnp.float32)
    target = jnp.asarray(rng.normal(size=(2, 64, 64, 4)), jnp.float32)
    graphdef, state = nnx.split(model)

    def step(state, x):
        def loss(state):
            logits = nnx.merge(graphdef, state)(x)
            return jnp.mean((logits - target) ** 2), logits

        return jax.value_and_grad(loss, has_aux=True)(state)

    (loss, logits), grads = jax.jit(step).lower(state, x).compile(FAST_COMPILE)(state, x)
    assert logits.shape == (2, 64, 64, 4) and logits.dtype == jnp.float32
    assert np.isfinite(float(loss)) and np.isfinite(np.asarray(logits)).all()
    leaves = jax.tree_util.tree_leaves_with_path(nnx.state(grads, nnx.Param))
    decoder = [(jax.tree_util.keystr(p), g) for p, g in leaves if "encoder" not in jax.tree_util.keystr(p)]
    assert decoder and all(np.isfinite(np.asarray(g)).all() for _, g in decoder)
    dead = [path for path, g in decoder if not np.any(np.asarray(g))]
    assert dead == []
    # the encoder's stem is reached too (stride 2 feeds every architecture)
    stem = [g for p, g in leaves if "encoder" in jax.tree_util.keystr(p) and "conv1" in jax.tree_util.keystr(p)]
    assert stem and np.any(np.asarray(stem[0]))


@pytest.mark.parametrize("arch", sorted(SMALL_ARCHS))
@pytest.mark.parametrize("backbone", sorted(SMALL_BACKBONES))
def test_every_architecture_with_one_backbone_per_family_builds_or_is_refused_by_name(arch, backbone):
    architecture, encoder = SMALL_ARCHS[arch], SMALL_BACKBONES[backbone]
    reason = incompatibility(architecture, encoder)
    if arch == "deeplabv3plus" and backbone in CANNOT_DILATE:
        assert reason and "'deeplabv3plus'" in reason and f"'{backbone}'" in reason and "cannot dilate" in reason
        with pytest.raises(ValueError, match="cannot dilate"):
            architecture.build(encoder, 1, 2, nnx.Rngs(0))
        return
    assert reason is None
    model = nnx.eval_shape(lambda: architecture.build(encoder, 1, 2, nnx.Rngs(0)))
    assert _forward_shape(model, (1, 64, 96, 1)).shape == (1, 64, 96, 2)


@pytest.mark.parametrize("arch", sorted(SMALL_ARCHS))
def test_architectures_refuse_inputs_off_their_grid(arch):
    architecture = SMALL_ARCHS[arch]
    model = nnx.eval_shape(lambda: architecture.build(SMALL_BACKBONES["plain"], 1, 2, nnx.Rngs(0)))
    size = architecture.size_multiple + architecture.size_multiple // 2
    with pytest.raises(ValueError, match=f"multiples of {architecture.size_multiple}"):
        _forward_shape(model, (1, size, size, 1))


def test_registry_has_the_five_architectures():
    from mia_core.plugins import load_plugins

    registry = load_plugins()
    assert {"unet", "fpn", "linknet", "pspnet", "deeplabv3plus"} <= set(registry.names("architectures"))
    with pytest.raises(ValueError, match="'deeplabv3plus' cannot use backbone 'vgg16'"):
        build_model(registry, "deeplabv3plus", "vgg16", 2, 1)


SMP_CLASSES = {"unet": "Unet", "fpn": "FPN", "linknet": "Linknet", "pspnet": "PSPNet", "deeplabv3plus": "DeepLabV3Plus"}


@pytest.mark.reference
@pytest.mark.parametrize("arch", sorted(SMP_CLASSES))
def test_parameter_count_equals_segmentation_models_pytorch_on_resnet34(arch):
    import segmentation_models_pytorch as smp

    from mia_core.plugins import load_plugins

    model = nnx.eval_shape(lambda: build_model(load_plugins(), arch, "resnet34", 3, 3))
    ours = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
    reference = getattr(smp, SMP_CLASSES[arch])("resnet34", encoder_weights=None, in_channels=3, classes=3)
    assert ours == sum(p.numel() for p in reference.parameters())


def _installed_architectures() -> list[str]:
    from mia_core.plugins import load_plugins

    return sorted(load_plugins().names("architectures"))


@pytest.mark.slow
@pytest.mark.parametrize("arch", _installed_architectures())
def test_every_installed_backbone_at_full_width_builds_or_is_refused_by_the_contract(arch):
    """Run in parts with ``pytest -m slow -k "full_width and fpn"``."""
    from mia_core.engine.model import pair_status
    from mia_core.plugins import load_plugins

    registry = load_plugins()
    architecture = registry.get("architectures", arch)
    failures = {}
    for name in registry.names("backbones"):
        backbone = registry.get("backbones", name)
        reason = pair_status(architecture, backbone, size=64)
        # a refusal must come from the contract (named, with the reason), never from a crash
        if reason is not None and reason != incompatibility(architecture, backbone):
            failures[name] = reason
    assert failures == {}
