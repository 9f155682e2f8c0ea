"""Help > Keys: every keyboard shortcut of the window, read from its actions and shortcuts when the
dialog opens, so the list cannot go stale when a key is added, changed or comes from a plugin."""

from __future__ import annotations

from typing import Any

from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import (
    QAction,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMainWindow,
    QMenu,
    QShortcut,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mia_core.viewer.actions import MOUSE


def _clean(text: str) -> str:
    return text.replace("&", "").rstrip("….").strip()


def _menu_paths(window: QMainWindow) -> dict[int, str]:
    """'Edit > Undo' for every action in the menu bar, by the action's id."""
    paths: dict[int, str] = {}

    def walk(menu: QMenu, prefix: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{prefix}{_clean(action.text())} > ")
            elif not action.isSeparator():
                paths.setdefault(id(action), prefix + _clean(action.text()))

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), f"{_clean(top.text())} > ")
    return paths


def _keys(sequences: list[QKeySequence]) -> str:
    return ", ".join(s.toString(QKeySequence.NativeText) for s in sequences if not s.isEmpty())


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str]]:
    """(keys, what they do) for every action and shortcut of ``window`` that has a key, then the mouse."""
    paths = _menu_paths(window)
    rows: list[tuple[str, str]] = []
    seen: set[int] = set()
    for action in window.findChildren(QAction):
        keys = _keys(action.shortcuts())
        if not keys or id(action) in seen:
            continue
        seen.add(id(action))
        what = action.whatsThis() or paths.get(id(action)) or _clean(action.text())
        rows.append((keys, what))
    grouped: dict[str, list[str]] = {}  # one row for keys that do the same (the class digits)
    for sc in window.findChildren(QShortcut):
        keys = _keys([sc.key()])
        if keys:
            grouped.setdefault(sc.whatsThis() or "(no description)", []).append(keys)
    for what, keys_list in grouped.items():
        keys = f"{keys_list[0]} … {keys_list[-1]}" if len(keys_list) > 3 else ", ".join(keys_list)
        rows.append((keys, what))
    rows.extend(MOUSE)
    return rows


class KeysDialog(QDialog):
    """A two-column table of keys and what they do."""

    def __init__(self, window: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setObjectName("keysDialog")
        self.setWindowTitle("Keys")
        self.rows = shortcut_rows(window)
        self.table = QTableWidget(len(self.rows), 2, self)
        self.table.setObjectName("keysTable")
        self.table.setHorizontalHeaderLabels(["Key", "What it does"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        for r, (keys, what) in enumerate(self.rows):
            self.table.setItem(r, 0, QTableWidgetItem(keys))
            self.table.setItem(r, 1, QTableWidgetItem(what))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Close, parent=self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 520)
