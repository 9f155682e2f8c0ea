"""The Results window: choose columns and options, export the folder's table in a worker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QListWidget, QListWidgetItem, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from mia_core.atomic import atomic_write_text
from mia_core.label_store import LABEL_FOLDER
from mia_core.results import ExportError, ExportSettings, all_columns, export_folder
from mia_core.viewer.workers import Task, TaskRunner, while_alive

SETTINGS_FILE = "results.json"


def settings_path(folder: Path) -> Path:
    """Where a folder's results settings are remembered."""
    return Path(folder) / LABEL_FOLDER / SETTINGS_FILE


class ResultsWindow(QDialog):
    """Settings of the table, an Export… button with a file dialog, progress and a cancel."""

    def __init__(self, registry: Any, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Results")
        self.registry, self.folder = registry, Path(folder)
        self.runner = TaskRunner(1, self)
        self.task: Task | None = None
        self.min_size = QSpinBox()
        self.min_size.setRange(0, 10**7)
        self.pixel_size = QDoubleSpinBox()
        self.pixel_size.setRange(0, 10**4)
        self.pixel_size.setDecimals(4)
        self.pixel_size.setSpecialValueText("none (pixels)")
        self.tracking = QCheckBox("Track objects across frames / images")
        self.separate = QCheckBox("Separate touching objects first")
        self.sheets = QComboBox()
        self.sheets.addItem("One sheet (Objects)", False)
        self.sheets.addItem("One sheet per class", True)
        self.sheets.setToolTip("XLSX only; a Summary sheet with counts and means is written either way")
        self.delimiter = QLineEdit()
        self.delimiter.setMaxLength(1)
        self.columns = QListWidget()
        for name in all_columns(registry):
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked)
            self.columns.addItem(item)
        self.export_button = QPushButton("Export…")
        self.cancel_button = QPushButton("Cancel")
        for b in (self.export_button, self.cancel_button):
            b.setAutoDefault(False)  # Enter in a spin box must not open the file dialog
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Minimum contour size (pixels)", self.min_size)
        form.addRow("Pixel size (µm)", self.pixel_size)
        form.addRow("CSV delimiter", self.delimiter)
        form.addRow("XLSX sheets", self.sheets)
        form.addRow(self.tracking)
        form.addRow(self.separate)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Columns"))
        layout.addWidget(self.columns, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        self.export_button.clicked.connect(self.choose_and_export)
        self.cancel_button.clicked.connect(self.cancel)
        self._load()

    # --- settings ----------------------------------------------------------------------------
    def export_settings(self) -> ExportSettings:
        """The settings shown in the window."""
        cols = [self.columns.item(i).text() for i in range(self.columns.count())
                if self.columns.item(i).checkState() == Qt.Checked]
        return ExportSettings(columns=cols, min_size=self.min_size.value(),
                              pixel_size=self.pixel_size.value() or None, tracking=self.tracking.isChecked(),
                              separate=self.separate.isChecked(), delimiter=self.delimiter.text() or ";",
                              sheet_per_class=bool(self.sheets.currentData()))

    def _load(self) -> None:
        try:
            raw = json.loads(settings_path(self.folder).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raw = {}
        self.min_size.setValue(int(raw.get("min_size", 3)))
        self.pixel_size.setValue(float(raw.get("pixel_size") or 0))
        self.tracking.setChecked(bool(raw.get("tracking", False)))
        self.separate.setChecked(bool(raw.get("separate", False)))
        self.delimiter.setText(str(raw.get("delimiter", ";"))[:1] or ";")
        self.sheets.setCurrentIndex(1 if raw.get("sheet_per_class") else 0)
        chosen = raw.get("columns")
        if isinstance(chosen, list):
            for i in range(self.columns.count()):
                item = self.columns.item(i)
                item.setCheckState(Qt.Checked if item.text() in chosen else Qt.Unchecked)

    def save(self) -> None:
        """Remember the settings beside the folder's labels."""
        s = self.export_settings()
        data = {"min_size": s.min_size, "pixel_size": s.pixel_size, "tracking": s.tracking,
                "separate": s.separate, "delimiter": s.delimiter, "sheet_per_class": s.sheet_per_class, "columns": list(s.columns or [])}
        try:
            settings_path(self.folder).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(settings_path(self.folder), json.dumps(data, indent=1))
        except OSError as exc:
            self.message.setText(f"Could not remember the settings: {exc.strerror or exc}")

    # --- export ------------------------------------------------------------------------------
    def choose_and_export(self) -> None:
        """Ask for the output file, then export in a worker."""
        path, _ = QFileDialog.getSaveFileName(self, "Export results", str(self.folder / "results.xlsx"),
                                              "Excel workbook (*.xlsx);;CSV table (*.csv)")
        if path:
            self.export_to(Path(path))

    def export_to(self, out: Path) -> Task | None:
        """Start the export to ``out`` (an existing file was confirmed by the file dialog)."""
        if not self.export_settings().columns:
            self.message.setText("Choose at least one column.")
            return None
        self.save()
        settings = self.export_settings()

        def job(report: Any) -> int:
            return export_folder(self.registry, self.folder, out, settings, force=True,
                                 progress=lambda d, t, _n: report(d, t))

        self.task = Task(job, "Exporting results")
        self.task.signals.progress.connect(self._progress)
        self.task.signals.finished.connect(while_alive(self, lambda n: self._done(out, n)))
        self.task.signals.failed.connect(while_alive(self, lambda msg, _tb: self._ended(f"Export failed: {msg}")))
        self.task.signals.cancelled.connect(lambda: self._ended("Export cancelled; nothing was written."))
        self.export_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.message.setText(f"Exporting to {out.name}…")
        return self.runner.start(self.task)

    def cancel(self) -> None:
        """Stop the export at the next image."""
        if self.task is not None:
            self.task.cancel()

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(done)

    def _done(self, out: Path, rows: int) -> None:
        text = f"Wrote {rows} rows to {out}." if rows else f"No labelled objects: {out} has the header only."
        self._ended(text)

    def _ended(self, text: str) -> None:
        self.export_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.message.setText(text)
        self.task = None


__all__ = ["ResultsWindow", "ExportError"]


def open_results(window: Any) -> ResultsWindow | None:
    """Show the Results window of the main window's folder (one per window, kept while open)."""
    from PyQt5.QtWidgets import QMessageBox

    if window.folder is None:
        QMessageBox.information(window, "Results", "Open a folder first (File > Open folder…).")
        return None
    dialog = getattr(window, "results_window", None)
    if dialog is None or dialog.folder != Path(window.folder):
        dialog = ResultsWindow(window.registry, Path(window.folder), window)
        window.results_window = dialog
    dialog.show()
    dialog.raise_()
    return dialog
