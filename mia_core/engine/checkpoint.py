"""Saved models and training checkpoints: JSON settings plus msgpack weights (never pickle).

A model folder holds ``config.json`` (architecture, backbone, classes, channels, normalisation,
patch size, the training settings) and ``weights.msgpack`` (``flax.serialization.msgpack_serialize``
of the nnx state as plain nested dicts).  ``checkpoint/`` beside them holds the model and optimizer
state of the last finished epoch plus the loop's progress, for ``--resume``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np
from flax import nnx, serialization

from mia_core.atomic import atomic_write_bytes
from mia_core.engine.checkpoint_files import (  # noqa: F401 - the file layout, re-exported here
    CHECKPOINT_DIR,
    CONFIG_FILE,
    PROGRESS_FILE,
    STATE_FILE,
    WEIGHTS_FILE,
    ModelLoadError,
    read_checkpoint_progress,
    read_json,
    resume_config,
)
from mia_core.engine import interrupts
from mia_core.engine.config import ConfigError, TrainConfig
from mia_core.object_scale import scales_from_json

FORMAT = "mia-model"
#: 2: the encoder contract; built-in encoders pad as PyTorch does (stride-2 layers moved by a pixel)
FORMAT_VERSION = 2


@dataclass
class ModelInfo:
    """What a saved model is and how its input must be prepared (the model folder's config.json)."""

    architecture: str
    backbone: str
    num_classes: int
    in_channels: int
    class_names: list[str]
    normalisation: str
    patch_size: int
    epoch: int = -1  # 0-based epoch whose weights are saved
    metric: str = ""
    metric_value: float | None = None
    train: dict[str, Any] = field(default_factory=dict)  # the TrainConfig of the run
    input_normalisation: dict[str, Any] | None = None  # a pretrained encoder's mean/std/order ("encoder")
    #: the training labels' objects per foreground class ("1": {count, median_area, touching}),
    #: whence prediction's default postprocessing (mia_core.object_scale); {} in folders saved before it
    objects: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT
    version: int = FORMAT_VERSION

    def to_json(self) -> str:
        """Pretty JSON text."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Path) -> "ModelInfo":
        """Parse config.json content, raising ModelLoadError naming ``source``."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelLoadError(f"{source} is not a mia model settings file")
        if int(data.get("version", 0)) > FORMAT_VERSION:
            raise ModelLoadError(f"{source} was written by a newer mia (version {data.get('version')})")
        if int(data.get("version", 0)) < FORMAT_VERSION:
            raise ModelLoadError(
                f"{source} was written by mia 0.1 (model format {data.get('version')}), whose built-in encoders "
                "padded their stride-2 layers differently: its weights would load but predict shifted, wrong "
                "results. Train the model again with this mia (mia train FOLDER --out MODEL_DIR, or Model > "
                "Train in the app), or predict with the mia version that trained it"
            )
        names = {f for f in cls.__dataclass_fields__}
        try:
            info = cls(**{k: v for k, v in data.items() if k in names})
            info.num_classes, info.in_channels = int(info.num_classes), int(info.in_channels)
        except (TypeError, ValueError) as exc:
            raise ModelLoadError(f"{source} lacks model settings: {exc}") from exc
        try:
            scales_from_json(info.objects)
        except ValueError as exc:
            raise ModelLoadError(f"{source}: {exc}") from exc
        info.objects = info.objects or {}
        if info.num_classes < 2 or info.in_channels not in (1, 3):
            raise ModelLoadError(f"{source} has impossible classes/channels {info.num_classes}/{info.in_channels}")
        return info


def default_class_names(config: TrainConfig, num_classes: int) -> list[str]:
    """The configured class names, completed with 'background', 'class 1', ..."""
    names = list(config.class_names)[:num_classes]
    for k in range(len(names), num_classes):
        names.append("background" if k == 0 else f"class {k}")
    return names


# --- serialisation ---------------------------------------------------------------------------
def state_bytes(obj: Any) -> bytes:
    """msgpack bytes of an nnx object's state (gathered to the host)."""
    return serialization.msgpack_serialize(_host_tree(nnx.to_pure_dict(nnx.state(obj))))


def _is_key(x: Any) -> bool:
    """True for a typed PRNG key array (stored as its raw key data)."""
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _host_tree(pure: Any) -> Any:
    """Numpy copies of every leaf; typed PRNG keys become their uint32 key data."""
    return jax.tree_util.tree_map(
        lambda x: np.asarray(jax.device_get(jax.random.key_data(x) if _is_key(x) else x)), pure
    )


def _rewrap_keys(expected: Any, restored: Any) -> Any:
    """Turn restored key data back into typed keys where the live state holds keys."""
    if isinstance(expected, dict):
        return {k: _rewrap_keys(v, restored[k]) for k, v in expected.items()}
    if _is_key(expected):
        return jax.random.wrap_key_data(np.asarray(restored), impl=jax.random.key_impl(expected))
    return restored


def restore_state(obj: Any, data: bytes, source: Path) -> None:
    """Load msgpack bytes into an nnx object whose structure and shapes must match."""
    try:
        restored = serialization.msgpack_restore(data)
    except Exception as exc:  # msgpack raises several types for damaged data
        raise ModelLoadError(f"{source} is damaged: {exc}") from exc
    state = nnx.state(obj)
    live = nnx.to_pure_dict(state)
    expected = _shapes(_host_tree(live))
    found = _shapes(restored) if isinstance(restored, dict) else {}
    if expected != found:
        missing = sorted(set(expected) - set(found))[:3]
        extra = sorted(set(found) - set(expected))[:3]
        wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])[:3]
        raise ModelLoadError(
            f"{source} does not fit this network (missing {missing}, unexpected {extra}, shape differs {wrong}): "
            f"it was saved by another version of the architecture or backbone plugin; load it with the "
            f"mia and plugin versions that trained it, or train the model again"
        )
    nnx.replace_by_pure_dict(state, _rewrap_keys(live, restored))
    nnx.update(obj, state)


def _shapes(tree: dict[str, Any], prefix: str = "") -> dict[str, tuple[int, ...]]:
    """Flat path -> shape map of a nested dict of arrays."""
    out: dict[str, tuple[int, ...]] = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}"
        if isinstance(value, dict):
            out.update(_shapes(value, path))
        else:
            out[path] = tuple(np.shape(value))
    return out


# --- model folder ----------------------------------------------------------------------------
def save_model(folder: str | Path, model: nnx.Module, info: ModelInfo) -> None:
    """Write config.json and weights.msgpack of a trained model."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    weights = state_bytes(model)
    with interrupts.deferred():
        atomic_write_bytes(root / WEIGHTS_FILE, weights)
        atomic_write_bytes(root / CONFIG_FILE, info.to_json().encode("utf-8"))


def read_model_info(folder: str | Path) -> ModelInfo:
    """The settings of a saved model, raising ModelLoadError naming the folder when absent or bad."""
    root = Path(folder)
    if not root.is_dir():
        raise ModelLoadError(f"model folder {root} not found")
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ModelLoadError(f"model folder {root} has no {CONFIG_FILE}: it is not a trained mia model")
    return ModelInfo.from_dict(read_json(path), path)


ModelBuilder = Callable[[ModelInfo], nnx.Module]


def build_from_registry(registry: Any = None, seed: int = 0) -> ModelBuilder:
    """A builder that makes the network named in a ModelInfo from the plugin registry."""

    def build(info: ModelInfo) -> nnx.Module:
        from mia_core.engine.model import build_model

        reg = registry
        if reg is None:
            from mia_core.plugins import load_plugins

            reg = load_plugins()
        try:
            return build_model(reg, info.architecture, info.backbone, info.num_classes, info.in_channels, seed=seed)
        except KeyError as exc:  # the registry's UnknownComponentError lists what exists
            raise ConfigError(exc.args[0] if exc.args else str(exc)) from exc
        except ValueError as exc:  # e.g. an architecture that cannot use the backbone
            raise ConfigError(str(exc)) from exc

    return build


def load_model(
    folder: str | Path, registry: Any = None, builder: ModelBuilder | None = None
) -> tuple[nnx.Module, ModelInfo]:
    """Rebuild a saved model in eval mode; ModelLoadError names the folder when it cannot be used."""
    root = Path(folder)
    info = read_model_info(root)
    weights = root / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelLoadError(f"model folder {root} has no {WEIGHTS_FILE}: training saved no weights yet")
    try:
        model = (builder or build_from_registry(registry))(info)
    except ConfigError as exc:
        raise ModelLoadError(f"cannot rebuild the model of {root}: {exc}") from exc
    restore_state(model, weights.read_bytes(), weights)
    model.eval()
    return model, info


# --- training checkpoint ---------------------------------------------------------------------
def save_checkpoint(folder: str | Path, model: nnx.Module, optimizer: nnx.Optimizer, progress: dict[str, Any]) -> None:
    """Save model + optimizer state and the loop's progress for resuming, as one file.

    ``state.msgpack`` holds all three and is replaced atomically, so a crash leaves either the old
    checkpoint or the new one; ``progress.json`` is a readable copy for tools that do not load JAX
    (a crash between the two writes leaves it one checkpoint behind, never the state).
    """
    root = Path(folder) / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    text = json.dumps(progress, indent=2)
    state = serialization.msgpack_serialize(
        {
            "model": serialization.msgpack_restore(state_bytes(model)),
            "optimizer": serialization.msgpack_restore(state_bytes(optimizer)),
            "progress": text,
        }
    )
    with interrupts.deferred():
        atomic_write_bytes(root / STATE_FILE, state)
        atomic_write_bytes(root / PROGRESS_FILE, text.encode("utf-8"))


def load_checkpoint(folder: str | Path, model: nnx.Module, optimizer: nnx.Optimizer) -> dict[str, Any]:
    """Restore model and optimizer state from a model folder's checkpoint; return its progress
    (the copy inside the state file; checkpoints of earlier mia versions have only progress.json)."""
    progress = read_checkpoint_progress(folder)
    path = Path(folder) / CHECKPOINT_DIR / STATE_FILE
    if not path.is_file():
        raise ModelLoadError(f"checkpoint state {path} is missing")
    try:
        both = serialization.msgpack_restore(path.read_bytes())
        parts = (both["model"], both["optimizer"])
        if "progress" in both:
            progress = json.loads(both["progress"])
    except Exception as exc:
        raise ModelLoadError(f"{path} is damaged: {exc}") from exc
    if not isinstance(progress, dict) or "epoch" not in progress or "config" not in progress:
        raise ModelLoadError(f"{path} is not a mia training checkpoint")
    restore_state(model, serialization.msgpack_serialize(parts[0]), path)
    restore_state(optimizer, serialization.msgpack_serialize(parts[1]), path)
    return progress
