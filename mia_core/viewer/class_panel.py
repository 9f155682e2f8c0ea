"""The class panel: the project's classes (class 0 is background) and the class tools draw with."""

from __future__ import annotations

from PyQt5.QtCore import QEvent, QObject, QPoint, QRect, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QIcon, QMouseEvent, QPixmap
from PyQt5.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSlider,
    QStyle,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from mia_core.viewer.settings import ClassInfo, palette_colour


def swatch(colour: str, size: int = 14) -> QIcon:
    """A small square of a class colour for lists and buttons."""
    pix = QPixmap(size, size)
    pix.fill(QColor(colour))
    return QIcon(pix)


class ClassPanel(QWidget):
    """Lists classes; add, rename (double-click), recolour and remove; the selected one is active.

    Below the list: how the labels are drawn (opacity, outlines only); the box beside each class
    shows or hides its contours without making it the active class.
    """

    classesChanged = pyqtSignal(list)  # list[ClassInfo]
    activeChanged = pyqtSignal(int)
    classVisibilityChanged = pyqtSignal(int, bool)  # class id, shown
    opacityChanged = pyqtSignal(float)  # 0..1, the whole label layer
    outlineOnlyChanged = pyqtSignal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.classes: list[ClassInfo] = []
        self.hidden: set[int] = set()  # classes whose contours are not drawn
        self.list = QListWidget()
        self.list.setObjectName("classList")
        self.list.setFocusPolicy(Qt.ClickFocus)
        self.add_button = QPushButton("Add")
        self.colour_button = QPushButton("Colour…")
        self.remove_button = QPushButton("Remove")
        for b in (self.add_button, self.colour_button, self.remove_button):
            b.setFocusPolicy(Qt.NoFocus)
        self.add_button.setToolTip("Add a class")
        self.colour_button.setToolTip("Change the colour of the selected class")
        self.remove_button.setToolTip("Remove the last class (class 0 is background and stays)")
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setObjectName("labelOpacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(100)
        self.opacity.setFocusPolicy(Qt.NoFocus)
        self.opacity.setToolTip("Opacity of the contours (outlines and fills); the labels do not change")
        self.outline_only = QCheckBox("Outlines only")
        self.outline_only.setObjectName("outlineOnly")
        self.outline_only.setFocusPolicy(Qt.NoFocus)
        self.outline_only.setToolTip("Draw the contours without their fill, to see the image under them")
        title = QLabel("Click to draw with a class (keys 0-9); double-click to rename; the box shows or "
                       "hides its contours. Class 0 is background (drawn dashed).")
        title.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.add_button, self.colour_button, self.remove_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(title)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        display = QHBoxLayout()
        display.addWidget(QLabel("Opacity"))
        display.addWidget(self.opacity, 1)
        display.addWidget(self.outline_only)
        layout.addLayout(display)
        self.list.viewport().installEventFilter(self)
        self.opacity.valueChanged.connect(lambda v: self.opacityChanged.emit(v / 100.0))
        self.outline_only.toggled.connect(self.outlineOnlyChanged.emit)
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.itemChanged.connect(self._item_edited)
        self.add_button.clicked.connect(lambda: self.add_class())
        self.colour_button.clicked.connect(self._pick_colour)
        self.remove_button.clicked.connect(self._confirm_remove)

    @property
    def active_class(self) -> int:
        """Class id tools draw with (the selected row)."""
        row = self.list.currentRow()
        return row if row >= 0 else min(1, len(self.classes) - 1)

    def colours(self) -> list[str]:
        """Colour of each class, by id."""
        return [c.colour for c in self.classes]

    def set_classes(self, classes: list[ClassInfo], active: int | None = None) -> None:
        """Show a project's classes without announcing a change."""
        self.classes = list(classes)
        for class_id in sorted(c for c in self.hidden if c >= len(self.classes)):
            self.hidden.discard(class_id)
            self.classVisibilityChanged.emit(class_id, True)
        keep = self.active_class if active is None else active
        self._rebuild(min(max(keep, 0), len(self.classes) - 1))

    def set_active(self, class_id: int) -> None:
        """Select the class tools draw with (keys 0-9)."""
        if 0 <= class_id < len(self.classes):
            self.list.setCurrentRow(class_id)

    def add_class(self, name: str | None = None, colour: str | None = None) -> int:
        """Append a class and select it; returns its id."""
        new_id = len(self.classes)
        self.classes.append(ClassInfo(name or f"class {new_id}", colour or palette_colour(new_id)))
        self._rebuild(new_id)
        self.classesChanged.emit(list(self.classes))
        return new_id

    def rename_class(self, class_id: int, name: str) -> None:
        """Give a class a new name (empty names are refused)."""
        name = name.strip()
        if not name or not 0 <= class_id < len(self.classes) or self.classes[class_id].name == name:
            self._rebuild(self.active_class)
            return
        self.classes[class_id] = ClassInfo(name, self.classes[class_id].colour)
        self._rebuild(self.active_class)
        self.classesChanged.emit(list(self.classes))

    def set_colour(self, class_id: int, colour: str) -> None:
        """Recolour a class (contours redraw at once)."""
        colour = QColor(colour).name()
        if not 0 <= class_id < len(self.classes):
            return
        self.classes[class_id] = ClassInfo(self.classes[class_id].name, colour)
        self._rebuild(self.active_class)
        self.classesChanged.emit(list(self.classes))

    def set_class_visible(self, class_id: int, visible: bool) -> None:
        """Show or hide the contours of a class (its box follows)."""
        if not 0 <= class_id < len(self.classes) or (class_id not in self.hidden) == visible:
            return
        (self.hidden.discard if visible else self.hidden.add)(class_id)
        item = self.list.item(class_id)
        self.list.blockSignals(True)
        item.setCheckState(Qt.Checked if visible else Qt.Unchecked)
        self.list.blockSignals(False)
        self.classVisibilityChanged.emit(class_id, visible)

    def check_rect(self, class_id: int) -> QRect:
        """Where the show/hide box of a class is in the list's viewport."""
        item = self.list.item(class_id)
        option = QStyleOptionViewItem()
        option.initFrom(self.list)
        option.rect = self.list.visualItemRect(item)
        option.features = QStyleOptionViewItem.HasCheckIndicator | QStyleOptionViewItem.HasDisplay \
            | QStyleOptionViewItem.HasDecoration
        option.decorationSize = self.list.iconSize()
        return self.list.style().subElementRect(QStyle.SE_ItemViewItemCheckIndicator, option, self.list)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A click on a class's box shows or hides it without selecting the class."""
        if watched is self.list.viewport() and event.type() in (
                QEvent.MouseButtonPress, QEvent.MouseButtonRelease, QEvent.MouseButtonDblClick):
            assert isinstance(event, QMouseEvent)
            item = self.list.itemAt(event.pos())
            if item is not None and event.button() == Qt.LeftButton:
                class_id = int(item.data(Qt.UserRole))
                if self.check_rect(class_id).adjusted(-2, -2, 2, 2).contains(QPoint(event.pos())):
                    if event.type() == QEvent.MouseButtonPress:
                        self.set_class_visible(class_id, class_id in self.hidden)
                    return True
        return super().eventFilter(watched, event)

    def remove_last_class(self) -> bool:
        """Remove the highest class id (ids of the others stay valid); background and one class stay."""
        if len(self.classes) <= 2:
            return False
        self.set_class_visible(len(self.classes) - 1, True)  # a class added later again starts shown
        self.classes.pop()
        self._rebuild(min(self.active_class, len(self.classes) - 1))
        self.classesChanged.emit(list(self.classes))
        return True

    # --- internals ---------------------------------------------------------------------------
    def _rebuild(self, active: int) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for i, c in enumerate(self.classes):
            item = QListWidgetItem(swatch(c.colour), c.name)
            item.setData(Qt.UserRole, i)
            item.setToolTip(f"class {i}" + (" (background)" if i == 0 else "") + f", key {i}" * (i < 10))
            item.setFlags(item.flags() | Qt.ItemIsEditable | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Unchecked if i in self.hidden else Qt.Checked)
            self.list.addItem(item)
        self.list.setCurrentRow(active)
        self.list.blockSignals(False)
        self.remove_button.setEnabled(len(self.classes) > 2)
        self.activeChanged.emit(self.active_class)

    def _row_changed(self, row: int) -> None:
        if row >= 0:
            self.activeChanged.emit(row)

    def _item_edited(self, item: QListWidgetItem) -> None:
        class_id = int(item.data(Qt.UserRole))
        shown = item.checkState() == Qt.Checked
        if shown == (class_id in self.hidden):  # the box was toggled (keyboard), not the name
            self.hidden.discard(class_id) if shown else self.hidden.add(class_id)
            self.classVisibilityChanged.emit(class_id, shown)
            return
        self.rename_class(int(item.data(Qt.UserRole)), item.text())

    def _pick_colour(self) -> None:
        cid = self.active_class
        colour = QColorDialog.getColor(QColor(self.classes[cid].colour), self, f"Colour of {self.classes[cid].name}")
        if colour.isValid():
            self.set_colour(cid, colour.name())

    def _confirm_remove(self) -> None:
        last = self.classes[-1].name
        answer = QMessageBox.question(
            self, "Remove class",
            f"Remove class {len(self.classes) - 1} ({last})? Contours of this class stay in the label "
            "files and are drawn in grey until a class with this id is added again.",
        )
        if answer == QMessageBox.Yes:
            self.remove_last_class()
