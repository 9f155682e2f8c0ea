"""File > Import masks… / Export masks…: what ``mia labels import-masks`` / ``export-masks`` do, in a worker.

The dialog fills the options of those commands and runs their code in :mod:`mia_core.masks` (so
the checks, the folder lock and the file handling are the same), with one progress step per image
and a cancel that stops after the current image.
"""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

from PyQt5.QtWidgets import (
    QCheckBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QMenu, QMessageBox,
    QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget,
)

from mia_core.viewer.gui_text import speak_gui
from mia_core.viewer.workers import Task, TaskRunner, while_alive


class _Lines(io.StringIO):
    """Collects the command's lines; each finished line is one progress step (and a cancel point)."""

    def __init__(self, report: Any, total: int) -> None:
        super().__init__()
        self.report, self.total, self.lines = report, total, 0

    def write(self, text: str) -> int:
        n = super().write(text)
        for _ in range(text.count("\n")):
            self.lines += 1
            self.report(min(self.lines, self.total), self.total)
        return n


class MaskDialog(QDialog):
    """Import masks from a folder into label files, or export label files as uint16 TIFF masks."""

    def __init__(self, window: Any, mode: str, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.window, self.mode = window, mode
        importing = mode == "import"
        self.setWindowTitle("Import masks" if importing else "Export masks")
        self.runner = TaskRunner(1, self)
        self.task: Task | None = None
        self.result: tuple[int, str] | None = None
        self.where = QLineEdit()
        self.where.setPlaceholderText("folder of masks named like the images" if importing
                                      else "folder for the masks (created if needed)")
        self.browse = QPushButton("Browse…")
        self.instances = QCheckBox("Masks hold object numbers (instances), not classes")
        self.suffix = QLineEdit()
        self.suffix.setPlaceholderText("e.g. _mask for cell1_mask.png")
        self.replace = QCheckBox("Replace existing label files" if importing else "Replace existing masks")
        self.run_button = QPushButton("Import" if importing else "Export")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        for b in (self.browse, self.run_button, self.cancel_button):
            b.setAutoDefault(False)
        self.progress = QProgressBar()
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.where, 1)
        row.addWidget(self.browse)
        form.addRow("Masks folder" if importing else "Save masks to", row)
        if importing:
            form.addRow("Mask name suffix", self.suffix)
        form.addRow(self.instances)
        form.addRow(self.replace)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.output, 1)
        self.browse.clicked.connect(self._browse)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(lambda: self.task.cancel() if self.task else None)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.windowTitle(), self.where.text() or str(self.window.folder))
        if folder:
            self.where.setText(folder)

    def options(self) -> SimpleNamespace:
        """The command's options these settings stand for (its defaults elsewhere)."""
        where = self.where.text().strip()
        common = dict(folder=str(self.window.folder), instances=self.instances.isChecked(), unlabelled=0,
                      force=self.replace.isChecked())
        if self.mode == "import":
            return SimpleNamespace(masks=where, mask_suffix=self.suffix.text(), class_id=None, class_map=None,
                                   skip_empty=False, mia_format=False, **common)
        return SimpleNamespace(out=where, **common)

    def start(self) -> Task | None:
        """Run the command in a worker."""
        from mia_core.images import list_images
        from mia_core.masks import run_export, run_import

        if not self.where.text().strip():
            self.output.setPlainText("Choose a folder first.")
            return None
        args = self.options()
        command = run_import if self.mode == "import" else run_export
        total = max(1, len(list_images(self.window.folder)))

        def job(report: Any) -> tuple[int, str]:
            lines = _Lines(report, total + 1)  # the last line is the summary
            report(0, total + 1)
            rc = command(args, out=lines, err=lines)
            return int(rc), lines.getvalue()

        self.task = Task(job, self.windowTitle())
        self.task.signals.progress.connect(self._progress)
        self.task.signals.finished.connect(self._done)
        self.task.signals.failed.connect(while_alive(self, lambda msg, _tb: self._ended(f"Failed: {msg}")))
        self.task.signals.cancelled.connect(lambda: self._ended("Cancelled after the current image; the files "
                                                                "written so far stay."))
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.output.setPlainText("Working…")
        return self.runner.start(self.task)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(done)

    def _done(self, result: tuple[int, str]) -> None:
        self.result = result
        self._ended(result[1].strip() or "Nothing to do.")
        if self.mode == "import":
            self.window_reload()

    def window_reload(self) -> None:
        """Imported label files replace what the window had open: read them again."""
        w = self.window
        w.session.clear()
        if w.image is not None:
            w._attach_document()
        for path in w.image_list.paths:
            w.image_list.refresh_labelled(path)
        w.status.info("Masks imported; the labels of this folder were read again (undo history starts anew)")

    def _ended(self, text: str) -> None:
        self.output.setPlainText(speak_gui(text))
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.task = None

    def closeEvent(self, event: Any) -> None:
        """Closing stops a running conversion after its current image."""
        if self.task is not None:
            self.task.cancel()
        super().closeEvent(event)


def open_mask_dialog(window: Any, mode: str) -> MaskDialog | None:
    """Show the import or export dialog of the open folder."""
    if window.folder is None:
        QMessageBox.information(window, "Masks", "Open a folder first (File > Open folder…).")
        return None
    key = f"mask_{mode}_dialog"
    dialog = getattr(window, key, None)
    if dialog is None or dialog.folder != window.folder:
        dialog = MaskDialog(window, mode)
        dialog.folder = window.folder
        setattr(window, key, dialog)
    dialog.show()
    dialog.raise_()
    return dialog


def build_mask_menu(window: Any, menu: QMenu) -> None:
    """File > Import masks… and Export masks…."""
    for mode, text in (("import", "Import masks…"), ("export", "Export masks…")):
        action = menu.addAction(text)
        action.setObjectName(f"{mode}_masks")
        action.triggered.connect(lambda _c=False, m=mode: open_mask_dialog(window, m))
