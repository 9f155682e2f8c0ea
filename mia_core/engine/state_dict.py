"""Load PyTorch-format (torchvision / timm) state dicts into Flax NNX modules, strictly.

A module's parameters get PyTorch-style names from their NNX paths: the path joined by dots,
with the leaf renamed as PyTorch names it (``kernel`` -> ``weight``, BatchNorm ``scale`` ->
``weight``, ``mean`` -> ``running_mean``, ``var`` -> ``running_var``). Arrays are converted from
PyTorch's layout: a 4-D convolution kernel OIHW -> HWIO (grouped and depthwise kernels too:
PyTorch's (O, I/groups, kh, kw) becomes (kh, kw, I/groups, O), the layout ``lax`` expects with
``feature_group_count``), a 2-D linear weight (out, in) -> (in, out). Source keys reach these
names through ``rename`` (regex pairs or a function), which is where a network's naming
differences from the file's (and keys to drop, such as a classifier) are written down.

Loading is all or nothing: missing keys, unexpected keys and wrong shapes are collected and
raised together as :class:`StateDictMismatch` before anything is assigned.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

#: PyTorch's name for each NNX leaf name that differs.
_LEAF_NAMES = {"kernel": "weight", "scale": "weight", "mean": "running_mean", "var": "running_var"}
#: BatchNorm bookkeeping buffers PyTorch saves that carry no weights; skipped silently.
_IGNORED_SUFFIXES = (".num_batches_tracked",)
#: How many offending keys an error message lists per kind before "... and N more".
_LISTED = 8

Rename = Callable[[str], "str | None"] | Iterable[tuple[str, "str | None"]]


class StateDictMismatch(ValueError):
    """A state dict that does not fit a module: lists what is missing, unexpected or misshapen."""

    def __init__(
        self,
        missing: list[str],
        unexpected: list[str],
        wrong_shapes: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
        context: str = "",
    ) -> None:
        self.missing = missing
        self.unexpected = unexpected
        self.wrong_shapes = wrong_shapes
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_listed(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_listed(unexpected)}")
        if wrong_shapes:
            shown = [f"{k} expected {tuple(e)} found {tuple(f)}" for k, e, f in wrong_shapes]
            parts.append(f"{len(wrong_shapes)} wrong shape(s) (PyTorch layout): {_listed(shown)}")
        where = f"{context}: " if context else ""
        super().__init__(
            f"{where}state dict does not fit the network; " + "; ".join(parts)
            + ". Check that the file is for this backbone (names are PyTorch-style after renaming)."
        )


def _listed(items: list[str]) -> str:
    """The first few items, comma-separated, with a count of the rest."""
    head = ", ".join(items[:_LISTED])
    return head + (f" ... and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def torch_name(path: tuple[Any, ...]) -> str:
    """The PyTorch-style dotted name of an NNX variable path (``('layer1', 0, 'bn1', 'scale')``
    -> ``layer1.0.bn1.weight``)."""
    *parents, leaf = (str(p) for p in path)
    return ".".join([*parents, _LEAF_NAMES.get(leaf, leaf)])


def _weights(module: nnx.Module) -> dict[str, nnx.Variable]:
    """Every parameter and BatchNorm statistic of ``module`` by PyTorch-style name."""
    out = {}
    for path, node in nnx.iter_graph(module):
        if isinstance(node, (nnx.Param, nnx.BatchStat)):
            out[torch_name(path)] = node
    return out


def to_torch_layout(array: np.ndarray) -> np.ndarray:
    """A Flax array in PyTorch's layout: HWIO kernel -> OIHW, (in, out) linear -> (out, in)."""
    if array.ndim == 4:
        return np.transpose(array, (3, 2, 0, 1))
    if array.ndim == 2:
        return array.T
    return array


def from_torch_layout(array: np.ndarray) -> np.ndarray:
    """A PyTorch array in Flax's layout: OIHW kernel -> HWIO, (out, in) linear -> (in, out)."""
    if array.ndim == 4:
        return np.transpose(array, (2, 3, 1, 0))
    if array.ndim == 2:
        return array.T
    return array


def expected_shapes(module: nnx.Module) -> dict[str, tuple[int, ...]]:
    """What a state dict for ``module`` must hold: PyTorch-style name -> PyTorch-layout shape."""
    return {
        name: tuple(to_torch_layout(np.empty(var.shape, np.uint8)).shape)
        for name, var in _weights(module).items()
    }


def module_state_dict(module: nnx.Module) -> dict[str, np.ndarray]:
    """The module's weights as a PyTorch-layout state dict (what :func:`load_state_dict` reads)."""
    return {name: to_torch_layout(np.asarray(var[...])) for name, var in _weights(module).items()}


def rename_by_patterns(patterns: Iterable[tuple[str, str | None]]) -> Callable[[str], str | None]:
    """A rename function applying ``(regex, replacement)`` pairs in order with ``re.sub``; a
    pair whose replacement is None drops every key its regex matches (e.g. a classifier)."""
    compiled = [(re.compile(p), r) for p, r in patterns]

    def rename(key: str) -> str | None:
        for pattern, replacement in compiled:
            if replacement is None:
                if pattern.search(key):
                    return None
            else:
                key = pattern.sub(replacement, key)
        return key

    return rename


def load_state_dict(
    module: nnx.Module,
    state: Mapping[str, Any],
    *,
    rename: Rename | None = None,
    context: str = "",
) -> None:
    """Assign a PyTorch-format state dict (name -> array-like) to ``module`` in place.

    ``rename`` maps each source key to the module's PyTorch-style name (None drops the key);
    ``context`` (e.g. the file name) prefixes the error message. Raises
    :class:`StateDictMismatch` listing every missing, unexpected and misshapen key, with the
    module left unchanged.
    """
    if rename is not None and not callable(rename):
        rename = rename_by_patterns(rename)
    targets = _weights(module)
    converted: dict[str, np.ndarray] = {}
    unexpected: list[str] = []
    wrong: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    for key, value in state.items():
        if key.endswith(_IGNORED_SUFFIXES):
            continue
        name = rename(key) if rename is not None else key
        if name is None:
            continue
        if name not in targets:
            unexpected.append(key if name == key else f"{key} (as {name})")
            continue
        if name in converted:
            raise ValueError(f"{context + ': ' if context else ''}two source keys map to {name}")
        array = np.asarray(value)
        var = targets[name]
        want = tuple(to_torch_layout(np.empty(var.shape, np.uint8)).shape)
        if tuple(array.shape) != want:
            wrong.append((name, want, tuple(array.shape)))
            continue
        converted[name] = np.ascontiguousarray(from_torch_layout(array)).astype(var[...].dtype)
    missing = [name for name in targets if name not in converted and name not in {w[0] for w in wrong}]
    if missing or unexpected or wrong:
        raise StateDictMismatch(missing, unexpected, wrong, context)
    for name, array in converted.items():
        targets[name][...] = jnp.asarray(array)
