"""Shared pieces of the ``reference`` tests: torch-side models with random weights, their
feature maps, and mia's converted features from the same weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

REFERENCE_MISSING = "reference install absent: pip install -e '.[reference]'"


def need(module: str) -> Any:
    """Import a reference package or skip the test saying how to install it."""
    return pytest.importorskip(module, reason=REFERENCE_MISSING)


def randomise_torch_model(model: Any, seed: int = 0) -> Any:
    """Random weights and BatchNorm statistics (fresh BN stats 0/1 would hide layout errors),
    scaled so activations stay in range through deep networks; returns it in eval mode."""
    torch = need("torch")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
            elif name.endswith(("running_mean", "bias")):
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.1)
            elif name.endswith("weight") and tensor.ndim == 1:
                tensor.copy_(torch.rand(tensor.shape, generator=gen) * 0.5 + 0.5)
            else:
                # variance 1/fan-in: with He's 2/fan-in activations grow through deep residual
                # nets until PyTorch's own float32 result is 3e-4 away from float64's
                fan_in = max(1, tensor[0].numel())
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * (1.0 / fan_in) ** 0.5)
    return model.eval()


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """Max absolute difference over the reference's max absolute value."""
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def hooked_features(model: Any, modules: dict[str, int], x: np.ndarray) -> dict[int, np.ndarray]:
    """Run ``model`` on NCHW ``x``; return the outputs of the named submodules by stride."""
    torch = need("torch")
    taps: dict[int, np.ndarray] = {}
    handles = [
        model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, stride=stride: taps.__setitem__(stride, out.detach().clone().numpy())
        )
        for name, stride in modules.items()
    ]
    with torch.no_grad():
        model(torch.from_numpy(x))
    for handle in handles:
        handle.remove()
    return taps


def timm_reference(name: str, x: np.ndarray, prepare: Any = None,
                   **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[int, np.ndarray]]:
    """A timm model with random weights: (its state dict as numpy, its stride 2..32 features on
    NCHW ``x``, from the modules timm's ``features_only`` taps); ``prepare(model)`` may alter
    the model (e.g. its padding) before it runs."""
    torch, timm = need("torch"), need("timm")
    torch.set_num_threads(2)
    model = randomise_torch_model(timm.create_model(name, pretrained=False, **kwargs))
    if prepare is not None:
        prepare(model)
    # the last five taps are the nominal strides 2..32 (VGG has a stride-1 tap first; with
    # output_stride=16 timm reports the dilated stage's reduction as 16)
    modules = {f["module"]: s for f, s in zip(model.feature_info[-5:], (2, 4, 8, 16, 32))}
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    return state, hooked_features(model, modules, x)


def mia_features(backbone: Any, state: dict[str, np.ndarray], x: np.ndarray, fmt: str = "timm",
                 output_stride: int = 32) -> dict[int, np.ndarray]:
    """mia's encoder loaded from ``state`` with mia's importer, run in eval mode on NCHW ``x``;
    its features back in NCHW."""
    from flax import nnx

    from mia_core.engine.state_dict import load_state_dict

    encoder = backbone.build(x.shape[1], nnx.Rngs(0), output_stride=output_stride)
    load_state_dict(encoder, state, rename=backbone.state_dict_rename(fmt), context=backbone.name)
    encoder.eval()
    out = encoder(x.transpose(0, 2, 3, 1))
    return {s: np.asarray(v).transpose(0, 3, 1, 2) for s, v in out.items()}


def assert_same_features(got: dict[int, np.ndarray], want: dict[int, np.ndarray], tol: float = 1e-4) -> None:
    """Same strides, shapes, and values within ``tol`` relative (max abs diff / max abs value)."""
    assert sorted(got) == sorted(want)
    errors = {s: relative_error(got[s], want[s]) for s in want if got[s].shape == want[s].shape}
    shapes = {s: (got[s].shape, want[s].shape) for s in want if got[s].shape != want[s].shape}
    assert not shapes, f"feature shapes differ (mia, reference): {shapes}"
    assert max(errors.values()) < tol, f"relative errors by stride: {errors}"


def pad_like_smp(model: Any, monkeypatch: Any) -> None:
    """Pad every 3x3 convolution and max-pool of a timm model by 1, as segmentation_models_pytorch
    does to its Inception / Xception encoders (so each stride's map is input / stride). timm's
    Inception-v3 max-pools its reduction blocks functionally: that module's ``F.max_pool2d`` is
    padded too, through ``monkeypatch``."""
    import importlib

    torch = need("torch")
    # the module, not the model function of the same name that ``timm.models`` exports
    inception_v3 = importlib.import_module("timm.models.inception_v3")

    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d) and module.kernel_size == (3, 3):
            module.padding = (1, 1)
        if isinstance(module, torch.nn.MaxPool2d):
            module.padding = 1
    functional = torch.nn.functional

    class PaddedPooling:
        def __getattr__(self, attribute: str) -> Any:
            return getattr(functional, attribute)

        @staticmethod
        def max_pool2d(x: Any, kernel_size: int, stride: int) -> Any:
            return functional.max_pool2d(x, kernel_size, stride, padding=1)

    monkeypatch.setattr(inception_v3, "F", PaddedPooling())
