"""Backbones + U-Net: output shapes, finite gradients, strides, parameter counts, model builder."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from mia_core.engine.layers import ConvBNAct
from mia_core.engine.model import SIZE_MULTIPLE, build_model, check_input_size
from mia_plugins.architectures.unet import UNetArchitecture
from mia_plugins.backbones.mobilenet import MobileNetV2Backbone
from mia_plugins.backbones.plain import PlainBackbone
from mia_plugins.backbones.resnet import ResNetBackbone
from mia_plugins.backbones.vgg import VGGBackbone

# Compile quickly: these tests check numbers, not speed.
FAST_COMPILE = {"xla_backend_optimization_level": 0}

TINY_BACKBONES = {
    "plain": PlainBackbone(width=0.25),
    "resnet18": ResNetBackbone("resnet18", (2, 2, 2, 2), width=0.125),
    "resnet34": ResNetBackbone("resnet34", (3, 4, 6, 3), width=0.125),
    "vgg16": VGGBackbone(width=0.125),
    "mobilenetv2": MobileNetV2Backbone(width=0.25),
}
TINY_UNET = UNetArchitecture(decoder_channels=(16, 8, 8, 8, 8))


def _loss_and_grads(model: nnx.Module, x: jax.Array, target: jax.Array):
    """Compile one training-mode forward + backward and run it."""
    graphdef, state = nnx.split(model)

    def step(state, x):
        def loss(state):
            logits = nnx.merge(graphdef, state)(x)
            return jnp.mean((logits - target) ** 2), logits

        return jax.value_and_grad(loss, has_aux=True)(state)

    return jax.jit(step).lower(state, x).compile(FAST_COMPILE)(state, x)


@pytest.mark.parametrize("name", sorted(TINY_BACKBONES))
def test_unet_gives_logits_at_input_resolution_and_finite_gradients(name):
    model = TINY_UNET.build(TINY_BACKBONES[name], 3, 4, nnx.Rngs(0))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, 32, 32, 3)), jnp.float32)
    target = jnp.asarray(rng.normal(size=(2, 32, 32, 4)), jnp.float32)
    (loss, logits), grads = _loss_and_grads(model, x, target)
    assert logits.shape == (2, 32, 32, 4)
    assert logits.dtype == jnp.float32
    assert np.isfinite(float(loss))
    leaves = jax.tree_util.tree_leaves_with_path(nnx.state(grads, nnx.Param))
    assert leaves and all(np.isfinite(np.asarray(g)).all() for _, g in leaves)
    # every parameter, encoder stem to head, is reached by the gradient
    dead = [jax.tree_util.keystr(path) for path, g in leaves if not np.any(np.asarray(g))]
    assert not dead


@pytest.mark.parametrize("name", sorted(TINY_BACKBONES))
def test_backbone_feature_maps_have_declared_strides_and_channels(name):
    backbone = TINY_BACKBONES[name]
    encoder = backbone.build(3, nnx.Rngs(0))
    graphdef, state = nnx.split(encoder)
    x = jax.ShapeDtypeStruct((2, 64, 96, 3), jnp.float32)
    out = jax.eval_shape(lambda s, v: nnx.merge(graphdef, s)(v), state, x)
    assert sorted(out) == sorted(backbone.feature_channels) == [2, 4, 8, 16, 32]
    # the component declares, before building, the channels the built encoder gives
    assert backbone.feature_channels == encoder.feature_channels
    for stride, feature in out.items():
        assert feature.shape == (2, 64 // stride, 96 // stride, backbone.feature_channels[stride])


# Parameter counts of torchvision's encoders (classifier removed; our convs before BatchNorm have
# no bias).
TORCHVISION_COUNTS = {
    "resnet18": (ResNetBackbone("resnet18", (2, 2, 2, 2)), 11_689_512 - 513_000),
    "resnet34": (ResNetBackbone("resnet34", (3, 4, 6, 3)), 21_797_672 - 513_000),
    "mobilenetv2": (MobileNetV2Backbone(), 3_504_872 - 1_281_000),
    "vgg16": (VGGBackbone(), 14_714_688),  # plain VGG16 (conv biases, no BatchNorm): vgg16.features
}


@pytest.mark.parametrize("name", sorted(TORCHVISION_COUNTS))
def test_full_width_encoders_match_torchvision_parameter_counts(name):
    backbone, expected = TORCHVISION_COUNTS[name]
    encoder = nnx.eval_shape(lambda: backbone.build(3, nnx.Rngs(0)))
    params = nnx.state(encoder, nnx.Param)
    assert sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params)) == expected


def test_unet_rejects_backbone_without_needed_stride():
    class Shallow:
        name = "shallow"
        feature_channels = {2: 4, 4: 4, 8: 4}
        can_dilate = False

        def build(self, in_channels, rngs, *, output_stride=32):  # pragma: no cover - must not be reached
            raise AssertionError("built a backbone the architecture cannot use")

    with pytest.raises(ValueError, match="unet.*shallow"):
        TINY_UNET.build(Shallow(), 3, 2, nnx.Rngs(0))


def test_unet_reads_channels_of_an_encoder_that_does_not_declare_them():
    class Encoder(nnx.Module):
        def __init__(self, rngs):
            self.convs = nnx.List([ConvBNAct(3 if i == 0 else 4 + i, 5 + i, 3, 2, rngs=rngs)
                                   for i in range(5)])

        def __call__(self, x):
            out = {}
            for i, conv in enumerate(self.convs):
                x = conv(x)
                out[2 ** (i + 1)] = x
            return out

    class ThirdParty:
        name = "third_party"
        strides = (2, 4, 8, 16, 32)  # declares no feature_channels: they are read by eval_shape
        can_dilate = False

        def build(self, in_channels, rngs, *, output_stride=32):
            return Encoder(rngs)

    model = TINY_UNET.build(ThirdParty(), 3, 2, nnx.Rngs(0))
    # decoder block at stride 16 sees 9 upsampled + 8 skip channels
    assert model.decoder[0].conv1.conv.kernel[...].shape == (3, 3, 9 + 8, 16)
    graphdef, state = nnx.split(model)
    x = jax.ShapeDtypeStruct((1, 64, 64, 3), jnp.float32)
    assert jax.eval_shape(lambda s, v: nnx.merge(graphdef, s)(v), state, x).shape == (1, 64, 64, 2)


def test_unet_rejects_input_not_multiple_of_32():
    model = TINY_UNET.build(TINY_BACKBONES["plain"], 1, 2, nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    x = jax.ShapeDtypeStruct((1, 48, 64, 1), jnp.float32)
    with pytest.raises(ValueError, match="multiples of 32"):
        jax.eval_shape(lambda s, v: nnx.merge(graphdef, s)(v), state, x)


def test_check_input_size():
    check_input_size(SIZE_MULTIPLE * 3, SIZE_MULTIPLE)
    for h, w in [(48, 64), (64, 0), (0, 0)]:
        with pytest.raises(ValueError, match=str(SIZE_MULTIPLE)):
            check_input_size(h, w)


class _Registry:
    """A registry stand-in that serves components by kind and name."""

    def __init__(self, **kinds):
        self.kinds = kinds

    def get(self, kind, name):
        try:
            return self.kinds[kind][name]
        except KeyError:
            raise KeyError(f"no {kind} named {name!r}") from None


def test_build_model_takes_architecture_and_backbone_from_registry():
    registry = _Registry(architectures={"unet": TINY_UNET}, backbones={"plain": TINY_BACKBONES["plain"]})
    model = build_model(registry, "unet", "plain", num_classes=3, in_channels=2, seed=1)
    assert model.head.kernel[...].shape == (3, 3, 8, 3)
    assert model.encoder.stages[0][0].conv.kernel[...].shape == (3, 3, 2, 4)
    again = build_model(registry, "unet", "plain", num_classes=3, in_channels=2, seed=1)
    other = build_model(registry, "unet", "plain", num_classes=3, in_channels=2, seed=2)
    np.testing.assert_array_equal(model.head.kernel[...], again.head.kernel[...])
    assert not np.array_equal(model.head.kernel[...], other.head.kernel[...])
    with pytest.raises(KeyError, match="resnet99"):
        build_model(registry, "unet", "resnet99", num_classes=3, in_channels=2)
    with pytest.raises(ValueError, match="num_classes"):
        build_model(registry, "unet", "plain", num_classes=0, in_channels=2)


def test_installed_plugins_provide_the_engine_components():
    from mia_core.plugins import load_plugins

    registry = load_plugins()
    assert {"unet"} <= set(registry.names("architectures"))
    assert {"vgg16", "resnet18", "resnet34", "mobilenetv2", "plain"} <= set(registry.names("backbones"))
    assert {"cross_entropy", "focal", "kl_divergence", "dice"} <= set(registry.names("losses"))
    assert {"iou", "pixel_accuracy"} <= set(registry.names("metrics"))
    model = nnx.eval_shape(lambda: build_model(registry, "unet", "resnet34", 3, 1))
    assert model.head.kernel.shape == (3, 3, 16, 3)


def test_eval_mode_uses_running_statistics():
    model = TINY_UNET.build(TINY_BACKBONES["plain"], 1, 2, nnx.Rngs(0))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 32, 32, 1)), jnp.float32)
    model.eval()
    forward = nnx.jit(lambda m, v: m(v))
    both = forward(model, x)
    # with running statistics each image's logits do not depend on the rest of the batch
    np.testing.assert_allclose(forward(model, x[:1]), both[:1], rtol=1e-4, atol=1e-4)


def test_train_step_with_cpu_compile_options_matches_nnx_jit_step():
    """The engine's step (jax.jit with XLA:CPU options, variables written back) gives the same
    loss, weights, optimizer state and BatchNorm statistics as a plain ``nnx.jit`` step."""
    import optax

    from mia_core.engine import steps

    def weighted_ce(logits, onehot, weights):
        return jnp.mean(weights * -jnp.sum(onehot * jax.nn.log_softmax(logits), axis=-1))

    backbone = TINY_BACKBONES["plain"]
    models = [TINY_UNET.build(backbone, 1, 2, nnx.Rngs(3)) for _ in range(2)]
    # plain SGD: Adam would magnify rounding-level gradient differences of parameters whose
    # gradient is ~0 (biases before BatchNorm) into whole learning-rate steps
    optimizers = [nnx.Optimizer(m, optax.sgd(0.05), wrt=nnx.Param) for m in models]
    rng = np.random.default_rng(0)
    # 64x64: at 32x32 the stride-32 BatchNorms see two values per channel, whose gradient
    # magnifies rounding differences between the two compilations far past the tolerance
    images = jnp.asarray(rng.normal(size=(2, 64, 64, 1)), jnp.float32)
    targets = jnp.asarray(rng.integers(0, 2, (2, 64, 64)), jnp.int32)
    weights = jnp.ones((2, 64, 64), jnp.float32)

    @nnx.jit
    def reference(model, optimizer):
        def loss(m):
            return weighted_ce(m(images), jax.nn.one_hot(targets, 2), weights)

        value, grads = nnx.value_and_grad(loss)(model)
        optimizer.update(model, grads)
        return value

    step = steps.make_train_step(weighted_ce, 2)
    for _ in range(2):
        got = step(models[0], optimizers[0], images, targets, weights)
        ref = reference(models[1], optimizers[1])
        np.testing.assert_allclose(got, ref, rtol=1e-4)
    for a, b in zip(jax.tree.leaves(nnx.state((models[0], optimizers[0]))),
                    jax.tree.leaves(nnx.state((models[1], optimizers[1])))):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    assert steps.compiler_options() == steps.XLA_CPU_OPTIONS  # these tests run on the CPU
    # inference writes back only what a train-mode call changes: the BatchNorm statistics
    before = [np.array(v) for v in jax.tree.leaves(nnx.state(models[0], nnx.BatchStat))]
    steps.predict_classes(models[0], images)
    after = [np.array(v) for v in jax.tree.leaves(nnx.state(models[0], nnx.BatchStat))]
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    models[0].eval()
    probs = steps.predict_probabilities(models[0], images)
    np.testing.assert_allclose(np.asarray(probs).sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(steps.predict_classes(models[0], images), np.argmax(probs, -1))


@pytest.mark.parametrize("name", ["plain", "resnet18", "mobilenetv2"])
@pytest.mark.parametrize("output_stride", [16, 8])
def test_dilated_encoder_keeps_nominal_stride_keys(name, output_stride):
    backbone = TINY_BACKBONES[name]
    assert backbone.can_dilate
    encoder = nnx.eval_shape(lambda: backbone.build(3, nnx.Rngs(0), output_stride=output_stride))
    graphdef, state = nnx.split(encoder)
    x = jax.ShapeDtypeStruct((1, 64, 96, 3), jnp.float32)
    out = jax.eval_shape(lambda s, v: nnx.merge(graphdef, s)(v), state, x)
    assert sorted(out) == [2, 4, 8, 16, 32]
    for stride, feature in out.items():
        actual = min(stride, output_stride)
        assert feature.shape == (1, 64 // actual, 96 // actual, backbone.feature_channels[stride])
    # dilation changes no parameter shape (weights of the undilated network still fit)
    plain = nnx.eval_shape(lambda: backbone.build(3, nnx.Rngs(0)))
    shapes = jax.tree.map(lambda p: p.shape, nnx.state(plain, nnx.Param))
    assert jax.tree.map(lambda p: p.shape, nnx.state(encoder, nnx.Param)) == shapes


def test_architecture_asking_a_dilated_encoder_refuses_a_backbone_that_cannot_dilate():
    import dataclasses

    dilated = dataclasses.replace(TINY_UNET, name="needs16", output_stride=16)
    registry = _Registry(architectures={"needs16": dilated}, backbones={"vgg16": TINY_BACKBONES["vgg16"]})
    with pytest.raises(ValueError, match=r"'needs16' cannot use backbone 'vgg16'.*output stride 16.*cannot dilate"):
        build_model(registry, "needs16", "vgg16", num_classes=2, in_channels=1)
    with pytest.raises(ValueError, match="'vgg16' cannot dilate"):
        TINY_BACKBONES["vgg16"].build(3, nnx.Rngs(0), output_stride=16)
