"""Every training setting in one dataclass, with defaults that suit a 2-core CPU laptop.

GPU users raise ``patch_size``, ``batch_size`` and pick a bigger backbone.  This module does not
import JAX, so the app can show and check settings without loading the engine.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Height and width of every network input must be a multiple of this (five stride-2 stages).
SIZE_MULTIPLE = 32

OPTIMIZERS = ("adam", "adamw", "sgd-nesterov")
SCHEDULES = ("cosine", "constant", "step", "reduce-on-plateau")
CLASS_WEIGHTS = ("none", "inverse-frequency", "manual")
NORMALISATIONS = ("per-image", "min-max", "encoder")


class ConfigError(ValueError):
    """A training setting has a value that cannot work; the message names the setting."""


@dataclass
class AugmentConfig:
    """Random augmentations applied to each training patch (probabilities are per patch)."""

    flip: bool = True  # horizontal and vertical flips, each with probability 0.5
    rot90: bool = True  # a random multiple of 90 degrees
    affine: float = 0.5  # probability of a random scale + rotation
    scale_min: float = 0.8
    scale_max: float = 1.25
    rotation: float = 180.0  # largest rotation, degrees, either way
    blur: float = 0.2  # probability of a Gaussian blur
    blur_sigma: float = 1.5  # largest blur sigma, pixels
    noise: float = 0.2  # probability of additive Gaussian noise
    noise_std: float = 0.1  # largest noise standard deviation (normalised intensity units)
    brightness_contrast: float = 0.5  # probability of a random brightness/contrast change
    brightness: float = 0.2  # largest brightness shift (normalised intensity units)
    contrast: float = 0.2  # largest relative contrast change

    def validate(self) -> None:
        """Raise ConfigError naming the first augmentation setting out of range."""
        for name in ("affine", "blur", "noise", "brightness_contrast"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"setting 'augment.{name}' is a probability in [0, 1], got {value!r}")
        if not 0.0 < self.scale_min <= self.scale_max:
            raise ConfigError(
                f"settings 'augment.scale_min'/'augment.scale_max' need 0 < min <= max, "
                f"got {self.scale_min!r}, {self.scale_max!r}"
            )
        for name in ("rotation", "blur_sigma", "noise_std", "brightness", "contrast"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"setting 'augment.{name}' must be a finite number >= 0, got {value!r}")
        if self.contrast >= 1.0:
            raise ConfigError(f"setting 'augment.contrast' must be below 1, got {self.contrast!r}")


@dataclass
class TrainConfig:
    """All settings of one training run (saved beside the model as part of config.json)."""

    architecture: str = "unet"
    backbone: str = "resnet18"
    loss: str = "cross_entropy"
    metric: str = "iou"
    epochs: int = 30
    steps_per_epoch: int = 50
    batch_size: int = 4
    patch_size: int = 128
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9  # sgd-nesterov only
    weight_decay: float = 1e-4  # adamw only
    # "step" x0.3 every 6 epochs: 19 epochs fit the 5-minute budget on an idle 2-core CPU, so the run
    # ends at 1/10 of the rate (bench_quality measured it ahead of "cosine" there: docs/training.md)
    schedule: str = "step"
    step_epochs: int = 6  # "step": multiply the learning rate by step_gamma every step_epochs
    step_gamma: float = 0.3
    plateau_patience: int = 3  # "reduce-on-plateau": epochs without improvement before reducing
    plateau_factor: float = 0.5
    min_learning_rate: float = 1e-6
    early_stopping: int = 10  # stop after this many epochs without improvement (0 = never)
    # seconds (0 = none): no epoch starts that would end past it; the best epoch is kept. 5 minutes by
    # default: a first model in minutes on a 2-core CPU (docs/training.md says what that trades)
    time_budget: float = 300.0
    val_fraction: float = 0.2  # share of labelled images held out (by image) when no val_folder
    val_folder: str | None = None
    max_val_patches: int = 64
    normalisation: str = "per-image"
    # pretrained encoder weights ("imagenet", a weights name, or None for a random start); their
    # input normalisation is copied into ``input_normalisation`` and ``normalisation`` becomes "encoder"
    weights: str | None = None
    input_normalisation: dict[str, Any] | None = None
    class_weights: str = "none"
    manual_class_weights: tuple[float, ...] = ()
    separate_contours: bool = False  # U-Net border weights between touching objects
    border_w0: float = 10.0
    border_sigma: float = 5.0
    prefer_labelled: bool = True  # re-draw patches with too few labelled pixels ...
    prefer_labelled_tries: int = 10  # ... at most this many times (N) ...
    prefer_labelled_min_pixels: int = 256  # ... when they hold fewer than this many (M)
    num_classes: int | None = None  # None: highest labelled class + 1
    class_names: tuple[str, ...] = ()
    seed: int = 0
    data_parallel: bool = True  # shard each batch over every local device
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def validate(self) -> None:
        """Raise ConfigError naming the first setting whose value cannot work."""
        _positive_int(self, "epochs")
        _positive_int(self, "steps_per_epoch")
        _positive_int(self, "batch_size")
        _positive_int(self, "max_val_patches")
        if not isinstance(self.time_budget, (int, float)) or not self.time_budget >= 0:
            raise ConfigError(f"setting 'time_budget' must be seconds >= 0 (0 = no limit), got {self.time_budget!r}")
        if not isinstance(self.patch_size, int) or self.patch_size <= 0 or self.patch_size % SIZE_MULTIPLE:
            raise ConfigError(
                f"setting 'patch_size' must be a positive multiple of {SIZE_MULTIPLE}, got {self.patch_size!r}"
            )
        _choice(self, "optimizer", OPTIMIZERS)
        _choice(self, "schedule", SCHEDULES)
        _choice(self, "class_weights", CLASS_WEIGHTS)
        _choice(self, "normalisation", NORMALISATIONS)
        for name in ("learning_rate", "border_sigma"):
            _positive_float(self, name)
        for name in ("weight_decay", "border_w0", "min_learning_rate"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"setting '{name}' must be a finite number >= 0, got {value!r}")
        for name in ("momentum", "step_gamma", "plateau_factor"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value < 1):
                raise ConfigError(f"setting '{name}' must be between 0 and 1 (exclusive), got {value!r}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"setting 'val_fraction' must be in [0, 1), got {self.val_fraction!r}")
        if self.val_folder and not (isinstance(self.val_folder, str) and Path(self.val_folder).is_dir()):
            raise ConfigError(f"setting 'val_folder' must be an existing folder, got {self.val_folder!r}")
        for name in ("step_epochs", "plateau_patience"):
            _positive_int(self, name)
        for name in ("early_stopping", "prefer_labelled_tries", "prefer_labelled_min_pixels", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"setting '{name}' must be a whole number >= 0, got {value!r}")
        if self.num_classes is not None and (not isinstance(self.num_classes, int) or self.num_classes < 2):
            raise ConfigError(f"setting 'num_classes' must be at least 2, got {self.num_classes!r}")
        if self.class_weights == "manual":
            if not self.manual_class_weights:
                raise ConfigError("setting 'manual_class_weights' is empty but 'class_weights' is 'manual'")
            if any(not (math.isfinite(w) and w >= 0) for w in self.manual_class_weights):
                raise ConfigError(
                    f"setting 'manual_class_weights' must hold finite numbers >= 0, got {self.manual_class_weights!r}"
                )
        if self.weights is not None and (not isinstance(self.weights, str) or not self.weights):
            raise ConfigError(f"setting 'weights' must be a weights name or null, got {self.weights!r}")
        if self.normalisation == "encoder" and not isinstance(self.input_normalisation, dict):
            raise ConfigError("setting 'normalisation' is 'encoder' but no 'input_normalisation' is set "
                              "(it comes from --weights)")
        for name in ("architecture", "backbone", "loss", "metric"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ConfigError(f"setting '{name}' must be a component name, got {getattr(self, name)!r}")
        self.augment.validate()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every setting."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Rebuild a config from :meth:`to_dict` output; unknown keys raise ConfigError."""
        data = dict(data)
        augment = data.pop("augment", {}) or {}
        _check_keys(cls, data, "")
        _check_keys(AugmentConfig, augment, "augment.")
        for name in ("manual_class_weights", "class_names"):
            if name in data and data[name] is not None:
                data[name] = tuple(data[name])
        return cls(**data, augment=AugmentConfig(**augment))

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with some settings changed (``augment.x`` keys reach the augmentation settings)."""
        data = self.to_dict()
        for key, value in changes.items():
            set_setting(data, key, value)
        return TrainConfig.from_dict(data)


def set_setting(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` (``name`` or ``augment.name``) in a config dict, rejecting unknown names."""
    parts = key.split(".")
    target = data
    for part in parts[:-1]:
        if part not in target or not isinstance(target[part], dict):
            raise ConfigError(f"unknown setting {key!r}")
        target = target[part]
    if parts[-1] not in target:
        raise ConfigError(f"unknown setting {key!r}")
    target[parts[-1]] = value


def parse_setting(config: TrainConfig, key: str, text: str) -> TrainConfig:
    """Return ``config`` with setting ``key`` set from command-line text, typed like the default."""
    data = config.to_dict()
    parts = key.split(".")
    current: Any = data
    for part in parts:
        if not isinstance(current, dict) or part not in current:
            raise ConfigError(f"unknown setting {key!r}")
        current = current[part]
    default = getattr(TrainConfig(), parts[0]) if len(parts) == 1 else getattr(AugmentConfig(), parts[-1])
    value = _parse_like(key, text, default, current)
    set_setting(data, key, value)
    return TrainConfig.from_dict(data)


def load_config_file(path: str | Path) -> TrainConfig:
    """Read a TrainConfig from a JSON file (all keys optional), raising ConfigError naming the file."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read settings file {p}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"settings file {p} must hold a JSON object")
    base = TrainConfig().to_dict()
    base["augment"].update(data.pop("augment", {}) or {})
    for key, value in data.items():
        set_setting(base, key, value)
    return TrainConfig.from_dict(base)


def _parse_like(key: str, text: str, default: Any, current: Any) -> Any:
    """Convert text to the type of a setting's default value."""
    try:
        if isinstance(default, bool):
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int) or (default is None and key == "num_classes"):
            return None if text.lower() in ("none", "") else int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            items = [t for t in text.split(",") if t.strip()]
            return [float(t) for t in items] if key == "manual_class_weights" else [t.strip() for t in items]
        if default is None:
            return None if text.lower() in ("none", "") else text
        return text
    except ValueError:
        raise ConfigError(f"setting {key!r} cannot take the value {text!r}") from None


def _check_keys(cls: type, data: dict[str, Any], prefix: str) -> None:
    """Reject keys that are not fields of ``cls``."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(prefix + u for u in unknown)}")


def _positive_int(cfg: TrainConfig, name: str) -> None:
    """Require a whole number >= 1."""
    value = getattr(cfg, name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"setting '{name}' must be a whole number >= 1, got {value!r}")


def _positive_float(cfg: TrainConfig, name: str) -> None:
    """Require a finite number > 0."""
    value = getattr(cfg, name)
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"setting '{name}' must be a finite number > 0, got {value!r}")


def _choice(cfg: TrainConfig, name: str, choices: tuple[str, ...]) -> None:
    """Require one of a fixed set of names."""
    value = getattr(cfg, name)
    if value not in choices:
        raise ConfigError(f"setting '{name}' must be one of {', '.join(choices)}; got {value!r}")
