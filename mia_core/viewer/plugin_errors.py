"""A dialog that lists the plugins that failed to load, with their tracebacks."""

from __future__ import annotations

from typing import Sequence

from PyQt5.QtGui import QFont
from PyQt5.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from PyQt5.QtCore import Qt


class PluginErrorsDialog(QDialog):
    """One row per failed plugin; selecting it shows the full traceback."""

    def __init__(self, failures: Sequence[object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Plugins that failed to load")
        self.failures = list(failures)
        self.resize(760, 420)
        intro = QLabel(
            f"{len(self.failures)} plugin(s) could not be loaded; everything else works. "
            "Disable one with `mia --disable NAME` or MIA_DISABLE_PLUGINS=NAME."
        )
        intro.setWordWrap(True)
        self.list = QListWidget()
        for rec in self.failures:
            summary = getattr(rec, "error_summary", None) or ""
            version = getattr(rec, "version", None)
            name = getattr(rec, "name", "?") + (f" {version}" if version else "")
            self.list.addItem(f"{name}: {summary}")
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setFont(QFont("monospace"))
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.list)
        split.addWidget(self.details)
        split.setSizes([100, 300])
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(split, 1)
        layout.addWidget(buttons)
        self.list.currentRowChanged.connect(self._show)
        if self.failures:
            self.list.setCurrentRow(0)

    def _show(self, row: int) -> None:
        if 0 <= row < len(self.failures):
            rec = self.failures[row]
            self.details.setPlainText(getattr(rec, "error", None) or "(no traceback recorded)")
