"""The tool bars: one button per registered tool plugin (label, icon, shortcut) with the edit
actions beside them, and a second row with the active tool's modes (every mode at once, as
exclusive buttons), its size slider and the "Inner contours" switch.

The second row keeps its geometry when the tool changes: the mode buttons of every tool share one
stacked widget (as wide as the widest tool's), and the size controls keep their place when hidden.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Mapping, Sequence

from PyQt5.QtCore import QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QFont, QFontMetrics, QIcon, QKeySequence, QPainter, QPixmap
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QButtonGroup,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QWidget,
)

from mia_core.tool_base import short_label

ICON_SIZE = 24


def tool_icon(tool: Any) -> QIcon:
    """The tool's icon: an image file, a theme icon, its glyph when the font has it, else its initial."""
    spec = getattr(tool, "icon", None)
    if isinstance(spec, str) and spec:
        if Path(spec).suffix.lower() in (".png", ".svg", ".jpg", ".ico") and Path(spec).is_file():
            return QIcon(spec)
        if QIcon.hasThemeIcon(spec):
            return QIcon.fromTheme(spec)
        font = QFont()
        font.setPixelSize(18)
        metrics = QFontMetrics(font)
        if len(spec) <= 2 and all(metrics.inFontUcs4(ord(ch)) for ch in spec):
            return _text_icon(spec, font, None)
    font = QFont()
    font.setPixelSize(15)
    font.setBold(True)
    initial = (getattr(tool, "label", "") or getattr(tool, "name", "?"))[:1].upper()
    return _text_icon(initial, font, QColor("#5a6f86"))


def _text_icon(text: str, font: QFont, background: QColor | None) -> QIcon:
    pix = QPixmap(ICON_SIZE, ICON_SIZE)
    pix.fill(Qt.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.Antialiasing)
    if background is not None:
        p.setBrush(background)
        p.setPen(Qt.NoPen)
        p.drawRoundedRect(QRectF(1, 1, ICON_SIZE - 2, ICON_SIZE - 2), 5, 5)
        p.setPen(QColor("white"))
    else:
        p.setPen(QColor("#202020"))
    p.setFont(font)
    p.drawText(QRectF(0, 0, ICON_SIZE, ICON_SIZE), Qt.AlignCenter, text)
    p.end()
    return QIcon(pix)


class ToolBar(QToolBar):
    """One checkable button per tool plugin, in F-key order."""

    toolRequested = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Tools", parent)
        self.setObjectName("toolsToolbar")
        self.setToolButtonStyle(Qt.ToolButtonTextUnderIcon)
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.actions_by_tool: dict[str, QAction] = {}

    def set_tools(self, tools: Sequence[Any]) -> None:
        """One button per tool, with its shortcut (F1-F6 for the built-ins)."""
        for action in self.actions_by_tool.values():
            self.group.removeAction(action)
            self.removeAction(action)
        self.actions_by_tool = {}
        used: set[str] = set()
        for tool in tools:
            action = QAction(tool_icon(tool), _short_label(tool), self)
            action.setCheckable(True)
            action.setObjectName(f"tool_{tool.name}")
            action.setWhatsThis(f"{getattr(tool, 'label', '') or tool.name} tool")
            shortcut = getattr(tool, "shortcut", None)
            tip = getattr(tool, "label", tool.name)
            keys = QKeySequence(shortcut).toString() if shortcut else ""
            if keys and keys not in used:  # a clash would silence both tools' keys
                used.add(keys)
                action.setShortcut(QKeySequence(keys))
                action.setShortcutContext(Qt.WindowShortcut)
                tip += f" — key {keys}"
            elif keys:
                tip += f" (its key {keys} is taken by another tool)"
            action.setToolTip(tip + "\n" + _usage(tool))
            action.triggered.connect(lambda _c=False, n=tool.name: self.toolRequested.emit(n))
            self.group.addAction(action)
            self.addAction(action)
            self.actions_by_tool[tool.name] = action

    def show_tool(self, name: str) -> None:
        """Check the active tool's button."""
        action = self.actions_by_tool.get(name)
        if action is not None:
            action.setChecked(True)


def _usage(tool: Any) -> str:
    """The second tooltip line of a tool: how its modes switch, or what a click does."""
    modes = tuple(getattr(tool, "modes", ()))
    if len(modes) > 1:
        return "Right-click on the image switches the mode: " + " → ".join(modes) + " (or click a mode button)"
    hints = getattr(tool, "hints", None)
    text = hints.get(modes[0]) if modes and isinstance(hints, Mapping) else None
    return str(text or "")


def mode_tooltip(tool: Any, mode: str) -> str:
    """A mode button's tooltip: what the mode does and that right-click switches modes."""
    hints = getattr(tool, "hints", None)
    text = hints.get(mode) if isinstance(hints, Mapping) else None
    head = f"{short_label(tool)}, {mode}" + (f": {text}" if text else "")
    if len(getattr(tool, "modes", ())) > 1:
        head += "\nRight-click on the image switches to the next mode"
    return head


class ModeButtons(QStackedWidget):
    """Every mode of the active tool at once, as exclusive checkable buttons (one page per tool).

    A stacked widget is as large as its largest page, so the row does not move when the tool changes.
    """

    modeRequested = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("toolModes")
        self.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Preferred)
        self.pages: dict[str, tuple[QWidget, QButtonGroup, dict[str, QToolButton]]] = {}
        self.current_tool: str | None = None

    def set_tools(self, tools: Sequence[Any]) -> None:
        """One page of mode buttons per tool (so the widest one reserves the row's space)."""
        for tool in tools:
            self._page(tool)

    def _page(self, tool: Any) -> tuple[QWidget, QButtonGroup, dict[str, QToolButton]]:
        if tool.name in self.pages:
            return self.pages[tool.name]
        page = QWidget()
        layout = QHBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        group = QButtonGroup(page)
        group.setExclusive(True)
        buttons: dict[str, QToolButton] = {}
        modes = tuple(getattr(tool, "modes", ()))
        for mode in modes:
            button = QToolButton()
            button.setText(mode)
            button.setObjectName(f"mode_{mode}")
            button.setCheckable(True)
            button.setFocusPolicy(Qt.NoFocus)
            button.setEnabled(len(modes) > 1)
            button.setToolTip(mode_tooltip(tool, mode))
            button.clicked.connect(lambda _c=False, m=mode: self.modeRequested.emit(m))
            group.addButton(button)
            layout.addWidget(button)
            buttons[mode] = button
        layout.addStretch(1)
        self.addWidget(page)
        self.pages[tool.name] = (page, group, buttons)
        return self.pages[tool.name]

    def show_tool(self, tool: Any) -> None:
        """Show the tool's modes with its current one checked."""
        page, _group, _buttons = self._page(tool)
        self.current_tool = tool.name
        self.setCurrentWidget(page)
        self.show_mode(str(getattr(tool, "mode", "")))

    def show_mode(self, mode: str) -> None:
        """Check the button of ``mode`` (it changes on right-click too)."""
        button = self.buttons().get(mode)
        if button is not None:
            button.setChecked(True)

    def buttons(self) -> dict[str, QToolButton]:
        """The active tool's mode buttons by mode."""
        if self.current_tool is None:
            return {}
        return self.pages[self.current_tool][2]

    def checked_mode(self) -> str:
        """The mode whose button is checked ("" when none)."""
        return next((m for m, b in self.buttons().items() if b.isChecked()), "")


class ToolOptionsBar(QToolBar):
    """The active tool's modes and size, and the Inner contours switch."""

    modeRequested = pyqtSignal(str)
    sizeRequested = pyqtSignal(int)
    innerContoursToggled = pyqtSignal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Tool options", parent)
        self.setObjectName("toolOptionsToolbar")
        self.modes = ModeButtons()
        self.modes.modeRequested.connect(self.modeRequested.emit)
        self.size_label = QLabel(" Size ")
        self.size_label.setMinimumWidth(QFontMetrics(self.size_label.font()).horizontalAdvance(" Slice width ") + 4)
        self.size_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.size_slider = QSlider(Qt.Horizontal)
        self.size_slider.setObjectName("toolSize")
        self.size_slider.setFocusPolicy(Qt.NoFocus)
        self.size_slider.setFixedWidth(140)
        self.size_slider.setToolTip("Brush radius / slice width in image pixels (mouse wheel in the brush tool)")
        self.size_value = QLabel()
        self.size_value.setMinimumWidth(QFontMetrics(self.size_value.font()).horizontalAdvance("200 px") + 4)
        self.size_slider.valueChanged.connect(self._size_moved)
        # one box that keeps its place while its controls hide, so the row does not jump
        self.size_box = QWidget()
        box = QHBoxLayout(self.size_box)
        box.setContentsMargins(0, 0, 0, 0)
        for w in (self.size_label, self.size_slider, self.size_value):
            policy = w.sizePolicy()
            policy.setRetainSizeWhenHidden(True)
            w.setSizePolicy(policy)
            box.addWidget(w)
        self._tool: Any = None
        self.inner = QCheckBox("Inner contours")
        self.inner.setObjectName("innerContours")
        self.inner.setChecked(True)
        self.inner.setFocusPolicy(Qt.NoFocus)
        self.inner.setToolTip("Off: contours have no holes (every hole of this image is filled at once)")
        self.inner.toggled.connect(self.innerContoursToggled.emit)
        self.size_box.setObjectName("toolSizeBox")
        self.addWidget(self.modes)
        self.addWidget(self.size_box)
        self.addSeparator()
        self.addWidget(self.inner)
        self.addSeparator()

    def set_tools(self, tools: Sequence[Any]) -> None:
        """Reserve the mode buttons of every tool (the row is as wide as the widest)."""
        self.modes.set_tools(tools)

    def show_tool(self, tool: Any) -> None:
        """Set up the mode and size controls for the active tool."""
        self._tool = tool
        name = str(getattr(tool, "size_name", "") or "Size")
        self.size_label.setText(f" {name} ")
        self.size_slider.setToolTip(f"{name} in image pixels" + (
            " (mouse wheel: about 10 % a notch)" if getattr(tool, "size_name", "") == "Radius" else ""))
        self.modes.show_tool(tool)
        self._show_size_controls()
        lo, hi = int(getattr(tool, "min_size", 1)), int(getattr(tool, "max_size", 200))
        self.size_slider.blockSignals(True)
        self.size_slider.setRange(lo, max(hi, lo))
        self.size_slider.blockSignals(False)
        self.show_size(int(getattr(tool, "size", 0) or 0))

    def show_mode(self, mode: str) -> None:
        """The active tool's mode (it changes on right-click)."""
        self.modes.show_mode(mode)
        self._show_size_controls()

    def _show_size_controls(self) -> None:
        """The size controls show only for tools and modes where the size means something."""
        tool = self._tool
        uses = getattr(tool, "uses_size", None)
        shown = bool(uses()) if callable(uses) else bool(getattr(tool, "size", 0))
        for w in (self.size_label, self.size_slider, self.size_value):
            w.setVisible(shown)

    def show_size(self, size: int) -> None:
        """Follow the tool's size (wheel in the brush tool) without feeding it back."""
        has = size > 0
        for w in (self.size_slider, self.size_label, self.size_value):
            w.setEnabled(has)
        self.size_slider.blockSignals(True)
        self.size_slider.setValue(size if has else self.size_slider.minimum())
        self.size_slider.blockSignals(False)
        self.size_value.setText(f"{size} px" if has else "")

    def _size_moved(self, value: int) -> None:
        self.size_value.setText(f"{value} px")
        self.sizeRequested.emit(value)


def _short_label(tool: Any) -> str:
    """Button text: the first word of the label ("Draw (add / delete)" -> "Draw")."""
    return short_label(tool)


#: Glyphs of the edit actions beside the tools (drawn like the tools' icons).
EDIT_GLYPHS = {"undo": "↶", "redo": "↷", "reset": "⌫", "fit": "⤢", "smart_mode": "✦"}
#: Their button texts, shorter than the menu texts.
EDIT_TEXTS = {"reset": "Reset", "fit": "Fit", "smart_mode": "Smart"}


class EditToolBar(QToolBar):
    """Undo, redo, reset, fit and Smart mode beside the tools (the second row has no room left)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Edit", parent)
        self.setObjectName("editToolbar")
        self.setToolButtonStyle(Qt.ToolButtonTextUnderIcon)

    def set_actions(self, actions: Sequence[QAction]) -> None:
        """Add the actions, each with a glyph icon, a short text and its keys in the tooltip."""
        for action in actions:
            name = action.objectName()
            if action.icon().isNull():
                spec = SimpleNamespace(icon=EDIT_GLYPHS.get(name), label=action.text(), name=name)
                action.setIcon(tool_icon(spec))
            if name in EDIT_TEXTS:
                action.setIconText(EDIT_TEXTS[name])
            keys = ", ".join(s.toString(QKeySequence.NativeText) for s in action.shortcuts())
            if keys and keys not in action.toolTip():
                action.setToolTip(f"{action.toolTip() or action.text()} ({keys})")
            self.addAction(action)


def toolbar_order(tools: Sequence[Any]) -> list[Any]:
    """Tools with F-key shortcuts in key order (F1 first), then the others in registry order."""

    def key(item: tuple[int, Any]) -> tuple[int, int]:
        index, tool = item
        m = re.fullmatch(r"F(\d+)", str(getattr(tool, "shortcut", "") or ""))
        return (int(m.group(1)) if m else 1000, index)

    return [t for _i, t in sorted(enumerate(tools), key=key)]
