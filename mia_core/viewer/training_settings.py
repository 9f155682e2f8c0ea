"""The settings part of the training window: one widget per training setting, read into a TrainConfig.

Defaults come from ``TrainConfig()``; the architecture, backbone, loss and metric lists come from
the plugin registry, so a plugin's components show up here without any change to the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mia_core.engine.config import CLASS_WEIGHTS, OPTIMIZERS, ConfigError, TrainConfig

#: Settings whose choices are plugin components: widget attribute -> registry kind.
COMPONENT_KINDS = {"architecture": "architectures", "backbone": "backbones", "loss": "losses", "metric": "metrics"}
#: Augmentation probabilities shown as spin boxes: setting -> label.
AUGMENT_PROBABILITIES = {
    "affine": "Scale / rotate",
    "blur": "Blur",
    "noise": "Noise",
    "brightness_contrast": "Brightness / contrast",
}


def _spin(low: int, high: int, step: int = 1, tip: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setToolTip(tip)
    return box


def _fraction(tip: str = "", high: float = 1.0) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.0, high)
    box.setDecimals(2)
    box.setSingleStep(0.05)
    box.setToolTip(tip)
    return box


def _number(low: float, high: float, decimals: int, tip: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setToolTip(tip)
    return box


def _row(*widgets: QWidget) -> QWidget:
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w)
    return holder


class TrainingSettingsForm(QWidget):
    """Every setting the app offers for a training run, grouped as network, training, data, augmentation."""

    def __init__(self, registry: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.combos: dict[str, QComboBox] = {}
        for attr, kind in COMPONENT_KINDS.items():
            combo = QComboBox()
            combo.setObjectName(attr)
            combo.addItems(self._names(kind))
            self.combos[attr] = combo
        self.combos["architecture"].setToolTip("Network layout (architecture plugins)")
        self.combos["backbone"].setToolTip("Encoder of the network; 'plain' is the lightest, resnet34 the strongest")
        self.pretrained = QCheckBox("Pretrained (ImageNet weights)")
        self.pretrained.setObjectName("pretrained")
        self.pretrained.setToolTip("Start the encoder from ImageNet weights (downloaded once, after asking); "
                                   "offered for backbones that have them")
        self.combos["backbone"].currentTextChanged.connect(self._update_pretrained)
        self.combos["loss"].setToolTip("What training minimises")
        self.combos["metric"].setToolTip("Validation measure: the best epoch by this value is kept")
        self.epochs = _spin(1, 100000, tip="Passes of training; each ends with validation and a checkpoint")
        self.steps = _spin(1, 1000000, tip="Training steps (batches) per epoch")
        self.batch = _spin(1, 4096, tip="Patches per training step")
        self.patch = _spin(32, 8192, 32, "Patch side in pixels, a multiple of 32; images smaller than it are padded")
        self.time_budget = _spin(0, 100000, tip="Minutes of training at most (0 = no limit): no epoch starts "
                                 "that would end past it; the best epoch is kept")
        self.time_budget.setSuffix(" min")
        self.time_budget.setSpecialValueText("no limit")
        self.learning_rate = QLineEdit()
        self.learning_rate.setToolTip("Step size of the optimiser, e.g. 0.001 or 3e-3")
        self.optimizer = QComboBox()
        self.optimizer.addItems(list(OPTIMIZERS))
        self.val_fraction = _fraction("Share of the labelled images held out for validation", 0.9)
        self.val_folder = QLineEdit()
        self.val_folder.setPlaceholderText("none: hold out the share above")
        self.val_folder.setToolTip("A folder of labelled images to validate on; then every image of the open "
                                   "folder trains and the validation share is not used")
        self.val_browse = QPushButton("Browse…")
        self.val_browse.setObjectName("val_folder_browse")
        self.val_browse.setAutoDefault(False)  # Enter in the form starts training, never a file dialog
        self.val_browse.setToolTip("Pick the validation folder")
        self.separate = QCheckBox("Separate contours")
        self.separate.setToolTip("Weigh the thin background gaps between touching objects more (U-Net border weights)")
        self.border_w0 = _number(0.0, 1000.0, 1, "w0: weight of the gap pixels")
        self.border_w0.setPrefix("w0 ")
        self.border_sigma = _number(0.1, 100.0, 1, "sigma: how fast the weight falls off, pixels")
        self.border_sigma.setPrefix("σ ")
        self.border_sigma.setSuffix(" px")
        self.prefer = QCheckBox("Prefer labelled parts")
        self.prefer.setToolTip("Draw patches again (up to N times) while they hold fewer than M labelled pixels")
        self.prefer_tries = _spin(0, 1000, tip="N: how many times a patch may be drawn again")
        self.prefer_tries.setSuffix(" tries")
        self.prefer_pixels = _spin(0, 10_000_000, 16, "M: labelled pixels a patch needs")
        self.prefer_pixels.setPrefix("min ")
        self.prefer_pixels.setSuffix(" px")
        self.class_weights = QComboBox()
        self.class_weights.addItems(list(CLASS_WEIGHTS))
        self.class_weights.setToolTip("none; inverse-frequency (rare classes weigh more); manual (one value per class)")
        self.manual_weights = QLineEdit()
        self.manual_weights.setPlaceholderText("e.g. 1, 3")
        self.manual_weights.setToolTip("One weight per class, background first, separated by commas")
        self.augment = QGroupBox("Augmentation")
        self.augment.setCheckable(True)
        self.flip = QCheckBox("Flips")
        self.rot90 = QCheckBox("90° rotations")
        self.probabilities = {name: _fraction(f"Probability of a random {label.lower()} per patch")
                              for name, label in AUGMENT_PROBABILITIES.items()}
        self.rotation = _spin(0, 180, 5, "Largest rotation of the random scale / rotate, degrees")

        for name, widget in {
            "epochs": self.epochs, "time_budget": self.time_budget, "steps_per_epoch": self.steps, "batch_size": self.batch,
            "patch_size": self.patch, "learning_rate": self.learning_rate, "optimizer": self.optimizer,
            "val_fraction": self.val_fraction, "val_folder": self.val_folder, "separate_contours": self.separate,
            "border_w0": self.border_w0, "border_sigma": self.border_sigma, "prefer_labelled": self.prefer,
            "prefer_labelled_tries": self.prefer_tries, "prefer_labelled_min_pixels": self.prefer_pixels,
            "class_weights": self.class_weights, "manual_class_weights": self.manual_weights,
            "augment": self.augment, "augment.flip": self.flip, "augment.rot90": self.rot90,
            "augment.rotation": self.rotation,
            **{f"augment.{n}": w for n, w in self.probabilities.items()},
        }.items():
            widget.setObjectName(name)
        self._lay_out()
        self.separate.toggled.connect(self._update_enabled)
        self.prefer.toggled.connect(self._update_enabled)
        self.class_weights.currentTextChanged.connect(self._update_enabled)
        self.val_folder.textChanged.connect(self._update_enabled)
        self.val_browse.clicked.connect(self.choose_val_folder)
        self.set_config(TrainConfig())

    def _names(self, kind: str) -> list[str]:
        try:
            return list(self.registry.names(kind))
        except (KeyError, AttributeError):
            return []

    def _lay_out(self) -> None:
        network = QGroupBox("Network")
        form = QFormLayout(network)
        for label, attr in (("Architecture", "architecture"), ("Backbone", "backbone"), ("Loss", "loss"),
                            ("Metric", "metric")):
            form.addRow(label, self.combos[attr])
            if attr == "backbone":
                form.addRow("", self.pretrained)
        training = QGroupBox("Training")
        form = QFormLayout(training)
        form.addRow("Epochs", self.epochs)
        form.addRow("Time budget", self.time_budget)
        form.addRow("Steps per epoch", self.steps)
        form.addRow("Batch size", self.batch)
        form.addRow("Patch size", self.patch)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Validation share", self.val_fraction)
        form.addRow("Validation folder", _row(self.val_folder, self.val_browse))
        data = QGroupBox("Data")
        form = QFormLayout(data)
        form.addRow(self.separate, _row(self.border_w0, self.border_sigma))
        form.addRow(self.prefer, _row(self.prefer_tries, self.prefer_pixels))
        form.addRow("Class weights", self.class_weights)
        form.addRow("Manual weights", self.manual_weights)
        form = QFormLayout(self.augment)
        form.addRow(_row(self.flip, self.rot90))
        form.addRow(QLabel("Chance per patch (0–1) of a random:"))
        for name, label in AUGMENT_PROBABILITIES.items():
            form.addRow(label, self.probabilities[name])
        form.addRow("Largest rotation (°)", self.rotation)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for box in (network, training, data, self.augment):
            layout.addWidget(box)
        layout.addStretch(1)

    def _update_enabled(self, *_: object) -> None:
        self.border_w0.setEnabled(self.separate.isChecked())
        self.border_sigma.setEnabled(self.separate.isChecked())
        self.prefer_tries.setEnabled(self.prefer.isChecked())
        self.prefer_pixels.setEnabled(self.prefer.isChecked())
        self.manual_weights.setEnabled(self.class_weights.currentText() == "manual")
        self.val_fraction.setEnabled(not self.val_folder.text().strip())  # the engine ignores it then

    def pretrained_weights(self, backbone: str) -> str | None:
        """The ImageNet weights name the registry offers for ``backbone``, if any."""
        try:
            sources = self.registry.components("weights")
        except (KeyError, AttributeError):
            return None
        return next((s.name for s in sources if s.backbone == backbone and s.tag == "imagenet"), None)

    def _update_pretrained(self, *_: object) -> None:
        has = self.pretrained_weights(self.combos["backbone"].currentText()) is not None
        self.pretrained.setEnabled(has)
        if not has:
            self.pretrained.setChecked(False)

    def choose_val_folder(self) -> None:
        """Browse… : pick a folder of labelled images to validate on."""
        chosen = QFileDialog.getExistingDirectory(self, "Validation folder", self.val_folder.text().strip())
        if chosen:
            self.val_folder.setText(chosen)

    # --- values ------------------------------------------------------------------------------
    def set_config(self, cfg: TrainConfig) -> None:
        """Show the settings of ``cfg`` (components the registry lacks fall back to its first one)."""
        for attr, combo in self.combos.items():
            index = combo.findText(getattr(cfg, attr))
            combo.setCurrentIndex(index if index >= 0 else 0)
        self.epochs.setValue(cfg.epochs)
        self.time_budget.setValue(int(round(cfg.time_budget / 60)))
        self.steps.setValue(cfg.steps_per_epoch)
        self.batch.setValue(cfg.batch_size)
        self.patch.setValue(cfg.patch_size)
        self.learning_rate.setText(f"{cfg.learning_rate:g}")
        self.optimizer.setCurrentText(cfg.optimizer)
        self.val_fraction.setValue(cfg.val_fraction)
        self.val_folder.setText(cfg.val_folder or "")
        self.separate.setChecked(cfg.separate_contours)
        self.border_w0.setValue(cfg.border_w0)
        self.border_sigma.setValue(cfg.border_sigma)
        self.prefer.setChecked(cfg.prefer_labelled)
        self.prefer_tries.setValue(cfg.prefer_labelled_tries)
        self.prefer_pixels.setValue(cfg.prefer_labelled_min_pixels)
        self.class_weights.setCurrentText(cfg.class_weights)
        self.manual_weights.setText(", ".join(f"{w:g}" for w in cfg.manual_class_weights))
        a = cfg.augment
        self.augment.setChecked(True)
        self.flip.setChecked(a.flip)
        self.rot90.setChecked(a.rot90)
        for name, box in self.probabilities.items():
            box.setValue(getattr(a, name))
        self.rotation.setValue(int(round(a.rotation)))
        self._update_pretrained()
        self.pretrained.setChecked(self.pretrained.isEnabled() and cfg.weights is not None)
        self._update_enabled()

    def config(self, base: TrainConfig | None = None, **extra: Any) -> TrainConfig:
        """The shown settings on top of ``base`` (defaults), validated; ConfigError names a bad one."""
        changes: dict[str, Any] = {}
        for attr, combo in self.combos.items():
            if combo.count() == 0:
                raise ConfigError(f"no {COMPONENT_KINDS[attr]} are installed: setting '{attr}' has no choice")
            changes[attr] = combo.currentText()
        changes.update(
            epochs=self.epochs.value(), time_budget=60.0 * self.time_budget.value(),
            steps_per_epoch=self.steps.value(), batch_size=self.batch.value(),
            patch_size=self.patch.value(), learning_rate=_float("learning_rate", self.learning_rate.text()),
            optimizer=self.optimizer.currentText(), val_fraction=round(self.val_fraction.value(), 4),
            val_folder=_folder(self.val_folder.text()),
            separate_contours=self.separate.isChecked(), border_w0=self.border_w0.value(),
            border_sigma=self.border_sigma.value(), prefer_labelled=self.prefer.isChecked(),
            prefer_labelled_tries=self.prefer_tries.value(), prefer_labelled_min_pixels=self.prefer_pixels.value(),
            class_weights=self.class_weights.currentText(),
            weights="imagenet" if self.pretrained.isEnabled() and self.pretrained.isChecked() else None,
        )
        if changes["class_weights"] == "manual":
            changes["manual_class_weights"] = _floats("manual_class_weights", self.manual_weights.text())
        on = self.augment.isChecked()
        changes["augment.flip"] = on and self.flip.isChecked()
        changes["augment.rot90"] = on and self.rot90.isChecked()
        for name, box in self.probabilities.items():
            changes[f"augment.{name}"] = round(box.value(), 4) if on else 0.0
        changes["augment.rotation"] = float(self.rotation.value())
        changes.update(extra)
        cfg = (base or TrainConfig()).replace(**changes)
        cfg.validate()
        return cfg


def _folder(text: str) -> str | None:
    """A folder typed in a text field as an absolute path (it is saved with the run and must mean
    the same folder when the run is resumed from elsewhere), None when the field is empty."""
    text = text.strip()
    return str(Path(text).expanduser().resolve()) if text else None


def _float(name: str, text: str) -> float:
    """A number typed in a text field, or ConfigError naming the setting."""
    try:
        return float(text.strip())
    except ValueError:
        raise ConfigError(f"setting '{name}' must be a number, got {text.strip()!r}") from None


def _floats(name: str, text: str) -> list[float]:
    """Comma-separated numbers, or ConfigError naming the setting."""
    items = [t for t in text.replace(";", ",").split(",") if t.strip()]
    try:
        return [float(t) for t in items]
    except ValueError:
        raise ConfigError(f"setting '{name}' takes numbers separated by commas, got {text.strip()!r}") from None
