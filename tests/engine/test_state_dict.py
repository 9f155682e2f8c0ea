"""The PyTorch state-dict importer: strictness and layouts (no torch needed), and the real thing
against torchvision (``reference`` tests, skipped without torch)."""

from __future__ import annotations

import numpy as np
import pytest
from flax import nnx
from reference_helpers import need, randomise_torch_model, relative_error

from mia_core.engine import layers
from mia_core.engine.state_dict import (
    StateDictMismatch,
    expected_shapes,
    load_state_dict,
    module_state_dict,
    rename_by_patterns,
)


class _Small(nnx.Module):
    def __init__(self, rngs: nnx.Rngs) -> None:
        self.conv = layers.Conv2d(3, 4, 3, use_bias=False, rngs=rngs)
        self.dw = layers.Conv2d(4, 4, 3, groups=4, rngs=rngs)
        self.bn = layers.batch_norm(4, rngs)
        self.fc = nnx.Linear(4, 2, rngs=rngs)


def _torch_layout_state(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A state dict as PyTorch would save _Small (OIHW kernels, (out, in) linear)."""
    return {
        "conv.weight": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
        "dw.weight": rng.normal(size=(4, 1, 3, 3)).astype(np.float32),
        "dw.bias": rng.normal(size=(4,)).astype(np.float32),
        "bn.weight": rng.normal(size=(4,)).astype(np.float32),
        "bn.bias": rng.normal(size=(4,)).astype(np.float32),
        "bn.running_mean": rng.normal(size=(4,)).astype(np.float32),
        "bn.running_var": rng.uniform(0.5, 2, size=(4,)).astype(np.float32),
        "bn.num_batches_tracked": np.array(7),
        "fc.weight": rng.normal(size=(2, 4)).astype(np.float32),
        "fc.bias": rng.normal(size=(2,)).astype(np.float32),
    }


def test_layouts_are_converted_to_flax():
    state = _torch_layout_state(np.random.default_rng(0))
    module = _Small(nnx.Rngs(0))
    load_state_dict(module, state)
    np.testing.assert_array_equal(module.conv.kernel[...], state["conv.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(module.dw.kernel[...][:, :, 0, :], state["dw.weight"][:, 0].transpose(1, 2, 0))
    np.testing.assert_array_equal(module.fc.kernel[...], state["fc.weight"].T)
    np.testing.assert_array_equal(module.bn.mean[...], state["bn.running_mean"])
    np.testing.assert_array_equal(module.bn.var[...], state["bn.running_var"])
    np.testing.assert_array_equal(module.bn.scale[...], state["bn.weight"])
    back = module_state_dict(module)
    assert set(back) == set(state) - {"bn.num_batches_tracked"}
    for key, value in back.items():
        np.testing.assert_array_equal(value, state[key])


def _snapshot(module: nnx.Module) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in module_state_dict(module).items()}


@pytest.mark.parametrize(
    "change,kind,text",
    [
        (lambda s: s.pop("bn.running_var"), "missing", "bn.running_var"),
        (lambda s: s.__setitem__("head.weight", np.zeros((3,), np.float32)), "unexpected", "head.weight"),
        (lambda s: s.__setitem__("conv.weight", np.zeros((4, 3, 5, 5), np.float32)), "wrong_shapes",
         "conv.weight expected (4, 3, 3, 3) found (4, 3, 5, 5)"),
    ],
)
def test_mismatches_are_refused_and_the_module_is_untouched(change, kind, text):
    state = _torch_layout_state(np.random.default_rng(1))
    change(state)
    module = _Small(nnx.Rngs(0))
    before = _snapshot(module)
    with pytest.raises(StateDictMismatch, match="weights.pth: state dict does not fit") as info:
        load_state_dict(module, state, context="weights.pth")
    assert text in str(info.value)
    assert getattr(info.value, kind)
    for key, value in _snapshot(module).items():
        np.testing.assert_array_equal(value, before[key])


def test_rename_maps_keys_and_drops_the_classifier():
    state = {("backbone." + k): v for k, v in _torch_layout_state(np.random.default_rng(2)).items()}
    state["classifier.weight"] = np.zeros((10, 4), np.float32)
    module = _Small(nnx.Rngs(0))
    load_state_dict(module, state, rename=[(r"^classifier\.", None), (r"^backbone\.", "")])
    np.testing.assert_array_equal(module.bn.bias[...], state["backbone.bn.bias"])
    rename = rename_by_patterns([(r"^a\.", "b."), (r"^b\.x", None)])
    assert rename("a.y") == "b.y" and rename("a.x") is None


def test_expected_shapes_are_in_torch_layout_without_allocating():
    module = nnx.eval_shape(lambda: _Small(nnx.Rngs(0)))
    shapes = expected_shapes(module)
    assert shapes["conv.weight"] == (4, 3, 3, 3)
    assert shapes["dw.weight"] == (4, 1, 3, 3)
    assert shapes["fc.weight"] == (2, 4)
    assert shapes["bn.running_mean"] == (4,)


# ---------------------------------------------------------------- against torchvision


@pytest.mark.reference
@pytest.mark.parametrize("name", ["resnet34", "mobilenetv2"])
def test_torchvision_weights_give_torchvision_features(name):
    torch, torchvision = need("torch"), need("torchvision")
    torch.set_num_threads(1)
    from mia_plugins.backbones.mobilenet import MobileNetV2Backbone
    from mia_plugins.backbones.resnet import ResNetBackbone

    if name == "resnet34":
        backbone = ResNetBackbone("resnet34", (3, 4, 6, 3))
        ref = randomise_torch_model(torchvision.models.resnet34(weights=None))
        stages = [("relu", 2), ("layer1", 4), ("layer2", 8), ("layer3", 16), ("layer4", 32)]
    else:
        backbone = MobileNetV2Backbone()
        ref = randomise_torch_model(torchvision.models.mobilenet_v2(weights=None))
        stages = [(f"features.{i}", s) for i, s in ((1, 2), (3, 4), (6, 8), (13, 16), (18, 32))]
    taps = {}
    for module_name, stride in stages:
        ref.get_submodule(module_name).register_forward_hook(
            lambda _m, _i, out, stride=stride: taps.__setitem__(stride, out.detach().numpy())
        )
    x = np.random.default_rng(0).normal(size=(1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        ref(torch.from_numpy(x))

    encoder = backbone.build(3, nnx.Rngs(0))
    state = {k: v.numpy() for k, v in ref.state_dict().items()}
    load_state_dict(encoder, state, rename=backbone.state_dict_rename("torchvision"))
    encoder.eval()
    features = encoder(x.transpose(0, 2, 3, 1))
    assert sorted(features) == sorted(taps)
    for stride, want in taps.items():
        got = np.asarray(features[stride]).transpose(0, 3, 1, 2)
        assert got.shape == want.shape, stride
        assert relative_error(got, want) < 1e-4, (stride, relative_error(got, want))
