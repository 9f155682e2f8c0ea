"""The main window: puts the widgets together and connects them to the folder being labelled."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PyQt5.QtCore import QByteArray, Qt, QTimer
from PyQt5.QtGui import QCloseEvent
from PyQt5.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from mia_core.api import ToolContext
from mia_core.document import LabelDocument
from mia_core.label_store import LabelStoreError
from mia_core.labels import LabelSet, all_background
from mia_core.tool_base import tool_hint
from mia_core.viewer.actions import build_actions
from mia_core.viewer.keys_dialog import KeysDialog
from mia_core.viewer.stack_question import ask_switch_stack_labels
from mia_core.viewer.assist_control import AssistControl
from mia_core.viewer.canvas import Canvas
from mia_core.viewer.class_panel import ClassPanel
from mia_core.viewer.folder_watch import FolderWatch
from mia_core.viewer.frame_slider import FrameSlider
from mia_core.viewer.image_list import ImageList
from mia_core.viewer.autoseg_actions import AutoSegControl
from mia_core.viewer.levels import LevelsControl
from mia_core.viewer.plugin_errors import PluginErrorsDialog
from mia_core.viewer.predict_actions import ModelControl
from mia_core.viewer.session import LabelSession
from mia_core.viewer.settings import (
    ClassInfo,
    SettingsError,
    UserSettings,
    load_classes,
    save_classes,
)
from mia_core.viewer.status import StatusBar
from mia_core.viewer.tool_controller import ToolController
from mia_core.viewer.toolbar import EditToolBar, ToolBar, ToolOptionsBar, toolbar_order
from mia_core.viewer.loader import FolderScanner, ImageLoader
from mia_core.viewer.workers import LoadedImage, ScanResult


#: Shown in the status bar on the first start (no settings saved yet).
FIRST_START_HINT = "New here? Press F2, then draw around an object."


class MainWindow(QMainWindow):
    """Image list and classes on the left, the canvas in the middle, tools on top."""

    def __init__(self, registry: Any, settings: UserSettings | None = None,
                 settings_warning: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle("mia")
        self.resize(1200, 800)
        self.registry = registry
        self.settings = settings or UserSettings()
        self.folder: Path | None = None
        self.image: LoadedImage | None = None
        self._label_clashes: dict[Path, str] = {}  # images sharing a label file, with why
        self.frame = 0
        self.document: LabelDocument | None = None
        self.session = LabelSession(self._labels_changed, self.settings.inner_contours,
                                    on_conflict=self._ask_conflict)
        self.plugin_dialog: PluginErrorsDialog | None = None

        # widgets
        self.canvas = Canvas()
        self.frame_slider = FrameSlider()
        self.levels = LevelsControl()
        self.image_list = ImageList()
        self.class_panel = ClassPanel()
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self.loader = ImageLoader(self.status.progress, self)
        self.scanner = FolderScanner(self)
        self.folder_watch = FolderWatch(self)  # images added/removed, label files changed by others
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.frame_slider)
        layout.addWidget(self.levels)
        self.setCentralWidget(central)
        self._dock("Images", self.image_list, "imagesDock")
        self._dock("Classes", self.class_panel, "classesDock")

        # tools from the plugins
        tools = toolbar_order(registry.components("tools"))
        for tool in tools:
            size = self.settings.tool_sizes.get(tool.name)
            if size and getattr(tool, "size", 0) and hasattr(tool, "set_size"):
                tool.set_size(size)
        self.toolbar = ToolBar()
        self.toolbar.set_tools(tools)
        self.addToolBar(Qt.TopToolBarArea, self.toolbar)
        self.edit_bar = EditToolBar(self)  # beside the tools; its actions come with the menus
        self.addToolBar(Qt.TopToolBarArea, self.edit_bar)
        self.addToolBarBreak(Qt.TopToolBarArea)
        self.options = ToolOptionsBar()
        self.options.set_tools(tools)
        self.addToolBar(Qt.TopToolBarArea, self.options)
        self.tools = ToolController(tools, self.tool_context, self)
        self.canvas.handler = self.tools
        self.models = ModelControl(self)  # Model menu: training and predictions
        self.assist = AssistControl(self)  # Assist menu: Smart mode, DEXTR
        self.autoseg = AutoSegControl(self)  # Assist menu: HED auto-segmentation
        self.actions_ = build_actions(self)
        acts = self.actions_
        self.edit_bar.set_actions((acts.undo, acts.redo, acts.reset, acts.fit, self.assist.smart_action))
        self.keys_dialog: KeysDialog | None = None
        self.status.set_hint(lambda: tool_hint(self.tools.current) if self.tools.current else "")
        self.options.inner.setChecked(self.settings.inner_contours)

        self._connect()
        self.tools.toolChanged.emit(self.tools.current.name if self.tools.current else "")
        self._update_history()
        self._restore_layout()
        self.class_panel.set_classes(list(self.settings.default_classes), 1)
        if self.settings.first_start:
            self.status.show_welcome(FIRST_START_HINT)
        if settings_warning:
            self.status.error(settings_warning)
        failures = list(getattr(registry, "failures", []))
        self.actions_.plugin_errors.setEnabled(bool(failures))
        if failures:
            self.status.show_plugin_failures([r.name for r in failures])
            self.status.plugin_warning.clicked.connect(self.show_plugin_errors)
            QTimer.singleShot(0, self.show_plugin_errors)
        self.canvas.setFocus()

    def _dock(self, title: str, widget: QWidget, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(Qt.LeftDockWidgetArea, dock)
        return dock

    def _connect(self) -> None:
        t, tb = self.tools, self.options
        self.toolbar.toolRequested.connect(t.select)
        tb.modeRequested.connect(t.set_mode)
        tb.sizeRequested.connect(t.set_size)
        tb.innerContoursToggled.connect(self.set_inner_contours)
        t.toolChanged.connect(self._tool_changed)
        t.modeChanged.connect(lambda mode: (tb.show_mode(mode), self.status.show_hint()))
        t.sizeChanged.connect(self._size_changed)
        t.previewChanged.connect(self.canvas.preview.show)
        t.editFailed.connect(self._edit_failed)
        self.canvas.hovered.connect(lambda x, y: self.status.show_pixel(x, y, self.current_frame()))
        self.canvas.left.connect(lambda: self.status.show_pixel(0, 0, None))
        self.canvas.zoomChanged.connect(self.status.show_zoom)
        self.levels.levelsChanged.connect(lambda lo, hi: self.canvas.set_levels((lo, hi)))
        self.image_list.imageSelected.connect(self.open_image)
        self.frame_slider.frameChanged.connect(self.show_frame)
        self.frame_slider.sharedChanged.connect(self.set_shared)
        self.class_panel.classesChanged.connect(self._classes_changed)
        self.class_panel.activeChanged.connect(self._active_class_changed)
        self.class_panel.classVisibilityChanged.connect(self.canvas.contours.set_class_visible)
        self.class_panel.opacityChanged.connect(self.canvas.contours.set_opacity)
        self.class_panel.outlineOnlyChanged.connect(self.canvas.contours.set_outline_only)
        self.loader.cancelled.connect(self._load_cancelled)
        self.loader.loaded.connect(self._image_loaded)
        self.loader.failed.connect(self._image_failed)
        self.scanner.scanned.connect(self._scanned)

    # --- folder and images -------------------------------------------------------------------
    def choose_folder(self) -> None:
        """File > Open folder."""
        start = str(self.folder or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open image folder", start)
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> bool:
        """List a folder's images, load its classes, open its last (or first) image."""
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            self.status.error(f"Cannot open folder {folder}: " + ("not a folder" if folder.exists() else "it does not exist"))
            return False
        from mia_core.images import ImageReadError, list_images

        try:
            paths = list_images(folder)
        except (ImageReadError, OSError) as exc:
            self.status.error(f"Cannot open folder {folder}: {exc}")
            return False
        self.loader.cancel()
        self.tools.cancel()
        same_folder = self.folder == folder.resolve()
        self.folder = folder.resolve()
        if same_folder:
            self.session.keep_unchanged()  # undo history stays where nobody changed the file
        else:
            self.session.clear()
        self._clear_image()
        classes, warning = load_classes(self.folder)
        self.class_panel.set_classes(classes or list(self.settings.default_classes), 1)
        self._apply_class_colours()
        self.image_list.set_images(self.folder, paths)
        self._grey_label_clashes(paths)
        self.folder_watch.watch(self.folder)
        self.settings.last_folder = str(self.folder)
        self._save_settings()
        self.setWindowTitle(f"mia — {self.folder}")
        if warning:
            self.status.error(warning)
        elif not os.access(self.folder, os.W_OK):
            self.status.error(f"The folder {self.folder} is read-only: labels cannot be saved here.")
        else:
            self.status.info(f"{len(paths)} image(s) in {self.folder}")
        if not paths:
            self.canvas.set_message(f"No images ({', '.join(_suffixes())}) in {self.folder}.\n"
                                    "Use File > Open folder (Ctrl+O).")
        self.scanner.start(paths)
        last = self.settings.last_images.get(str(self.folder))
        if paths and not (last and self.image_list.select(self.folder / last)):
            self.image_list.select(paths[0])
        return True

    def _grey_label_clashes(self, paths: list[Path]) -> None:
        """Images that would share a label file with another cannot be opened: grey them, say why."""
        from mia_core.label_clashes import header_frames, label_clashes

        self._label_clashes = label_clashes(paths, header_frames)
        for path, reason in self._label_clashes.items():
            self.image_list.set_unreadable(path, reason, "shares its label file")

    def _scanned(self, result: ScanResult) -> None:
        if result.error is not None:
            self.image_list.set_unreadable(result.path, result.error)
        elif result.frames:
            self.image_list.set_frames(result.path, result.frames)

    def open_image(self, path: Path) -> None:
        """Read an image in a worker; the progress bar shows for big stacks and can cancel."""
        path = Path(path)
        if self.image is not None and self.image.path == path and not self.loader.busy:
            return
        self.tools.cancel()
        clash = self._label_clashes.get(path)
        if clash is not None:
            self.loader.cancel()
            self._image_failed(path, clash)
            return
        self.status.info(f"Loading {path.name}…")
        self.loader.load(path)

    def _load_cancelled(self) -> None:
        """Cancel pressed: keep showing the image that was open and select it again in the list."""
        self.status.info("Loading cancelled")
        if self.image is not None:
            self.image_list.list.blockSignals(True)
            self.image_list.select(self.image.path)
            self.image_list.list.blockSignals(False)

    def _image_failed(self, path: Path, reason: str) -> None:
        self.image_list.set_unreadable(path, reason)
        self._clear_image()
        self.canvas.set_message(f"{path.name} cannot be opened:\n{reason}")
        self.status.error(f"Cannot open {path.name}: {reason}")

    def _image_loaded(self, loaded: LoadedImage) -> None:
        self.image = loaded
        self.levels.set_image(loaded.path, loaded.levels, loaded.data.dtype.kind in "uib")
        shared = self.session.is_shared(loaded.path, loaded.frames)
        self.frame_slider.set_stack(loaded.frames, 0, shared)
        self.image_list.set_frames(loaded.path, loaded.frames)
        if self.folder is not None:
            self.settings.last_images[str(self.folder)] = loaded.path.name
        h, w = loaded.shape
        frames = f", {loaded.frames} frames" if loaded.frames > 1 else ""
        notes = "".join(f"; {note}" for note in loaded.notes)
        self.setWindowTitle(f"mia — {loaded.path}")
        self.status.show_pixel(0, 0, None)
        self.show_frame(0, fit=True)
        self.status.info(f"{loaded.path.name}: {w}×{h}{frames}, {loaded.data.dtype}{notes}")

    def _clear_image(self) -> None:
        self.image = None
        self.document = None
        self.canvas.set_frame(None)
        self.status.show_pixel(0, 0, None)
        self.status.zoom.clear()
        self.frame_slider.set_stack(1)
        self.status.show_saved(None)
        self._update_history()

    def current_frame(self) -> np.ndarray | None:
        """The frame on the canvas (raw values, for the pixel readout and tools)."""
        return None if self.image is None else self.image.data[self.frame]

    def show_frame(self, frame: int, fit: bool = False) -> None:
        """Show one frame of the open image with its labels."""
        if self.image is None:
            return
        self.tools.cancel()
        self.frame = int(min(max(frame, 0), self.image.frames - 1))
        self.canvas.set_frame(self.image.data[self.frame], self.levels.levels, fit)
        self.levels.show_values(self.canvas.image_item.image)  # the drawn (memory-bounded) copy
        self._attach_document()
        if self.status.last_pointer is not None:  # the pointer is over another frame's pixel now
            self.status.show_pixel(*self.status.last_pointer, self.current_frame())

    def set_shared(self, shared: bool) -> None:
        """Per-frame / shared-stack switch for the open stack."""
        if self.image is None:
            return
        if not ask_switch_stack_labels(self, self.session, self.image, shared):
            self.frame_slider.set_stack(self.image.frames, self.frame, not shared)
            self.status.info("Label files of the stack unchanged")
            return
        self.tools.cancel()
        self.session.set_shared(self.image.path, shared)
        self._attach_document()
        where = self.document.path.name if self.document else ""
        self.status.info(("One label file for the whole stack: " if shared else "One label file per frame: ") + where)

    def _attach_document(self) -> None:
        assert self.image is not None
        shared = self.session.is_shared(self.image.path, self.image.frames)
        key = None if self.image.frames == 1 or shared else self.frame
        doc, warning = self.session.document(self.image.path, self.image.shape, key)
        self.document = doc
        self.status.labels_moved()
        if warning:
            self.status.error(warning)
        self.canvas.contours.show(doc.labels)
        self.status.show_saved(None)
        self._update_history()
        QTimer.singleShot(0, self.folder_watch.check_current)  # its file may have changed meanwhile

    # --- labels ------------------------------------------------------------------------------
    def tool_context(self) -> ToolContext | None:
        """What the active tool edits: None while no image is open."""
        if self.document is None:
            return None
        return self.assist.extend(ToolContext(
            document=self.document,
            active_class=self.class_panel.active_class,
            image=self.current_frame(),
            settings={"inner_contours": self.options.inner.isChecked(), "frame": self.frame,
                      "object_number": getattr(self, "object_number", 0)},  # set in Postprocessing
        ))

    def escape(self) -> None:
        """Escape: drop the edit in progress; only when there is none, cancel one running task."""
        if self.tools.cancel():
            self.status.show_hint()  # else it keeps the dropped edit's text (DEXTR's "2 of 4")
            return
        (self.autoseg.cancel() or self.models.cancel() or self.assist.cancel()
         or self.assist.cancel_training())

    def _labels_changed(self, doc: LabelDocument, labels: LabelSet) -> None:
        """Every saved change of any document: redraw if it is on screen, update the list."""
        if doc is self.document:
            self.status.labels_moved()
            self.status.show_welcome("")
            self.canvas.contours.show(labels)
            self.status.show_saved(str(doc.path))
            self._update_history()
            self._show_inner_contours(doc.inner_contours)  # undo of the hole fill turns it back on
        self.image_list.refresh_labelled(doc.image_path)

    def _run_edit(self, what: str, call: Any) -> bool:
        if self.document is None:
            return False
        self.tools.cancel()
        try:
            return bool(call())
        except LabelStoreError as exc:
            self._edit_failed(f"{what} not saved: {exc}")
            return False

    def _ask_conflict(self, doc: LabelDocument) -> str:
        """A label file changed on disk since it was opened here: reload it or keep mine?"""
        box = QMessageBox(
            QMessageBox.Warning, "Labels changed on disk",
            f"{doc.path.name} was changed on disk since it was opened here (by another program, a mia "
            f"command or a colleague).\n\nReload shows the labels on disk and drops this change "
            f"(Ctrl+Z brings your labels back). Keep mine writes your labels over the file on disk.",
            parent=self,
        )
        box.setObjectName("labelConflict")
        reload = box.addButton("Reload", QMessageBox.AcceptRole)
        keep = box.addButton("Keep mine", QMessageBox.DestructiveRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(reload)
        box.exec_()
        clicked = box.clickedButton()
        choice = "reload" if clicked is reload else "keep" if clicked is keep else "cancel"
        if choice == "reload":  # said once the reload has replaced the labels on screen
            text = f"Reloaded {doc.path.name} from disk; Ctrl+Z brings your labels back"
            QTimer.singleShot(0, lambda: self.status.info(text))
        elif choice == "cancel":
            self.status.info(f"Change not saved: {doc.path.name} changed on disk")
        return choice

    def undo(self) -> bool:
        """Ctrl+Z: the previous state of this image (saved at once)."""
        stack = getattr(self, "stack_label", None)  # Edit > Use as stack label is undone as one step
        if stack is not None and stack.can_undo():
            return self._run_edit("Undo", stack.undo)
        return self._run_edit("Undo", lambda: self.document.undo())

    def redo(self) -> bool:
        """Ctrl+Shift+Z / Ctrl+Y."""
        return self._run_edit("Redo", lambda: self.document.redo())

    def confirm_reset(self) -> None:
        """Reset button: asks before removing every contour of this image or frame."""
        if self.document is None or self.document.labels.is_empty:
            return
        where = self.document.path.name
        answer = QMessageBox.question(
            self, "Reset labels",
            f"Remove all {len(self.document.labels)} contour(s) of {where}? Ctrl+Z brings them back.",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.No,
        )
        if answer == QMessageBox.Yes:
            self._run_edit("Reset", lambda: self.document.reset())
            self.assist.reset()

    def mark_all_background(self) -> None:
        """Edit > Mark all background: class 0 over the whole image or frame, one undo step."""
        if self.document is None or self.image is None:
            return
        if not self.document.labels.is_empty:
            answer = QMessageBox.question(
                self, "Mark all background",
                f"Replace the {len(self.document.labels)} contour(s) of {self.document.path.name} with "
                "background over the whole image? Ctrl+Z brings them back.",
                QMessageBox.Yes | QMessageBox.No, QMessageBox.No,
            )
            if answer != QMessageBox.Yes:
                return
        shape = self.document.shape or self.image.shape
        self._run_edit("Mark all background", lambda: self.document.replace(all_background(shape)))

    def set_inner_contours(self, on: bool) -> None:
        """The Inner contours switch: off fills every hole of this image at once (one undo step)."""
        self.settings.inner_contours = on
        self.session.set_inner_contours(on)
        if self.document is not None:
            self._run_edit("Filling holes", lambda: setattr(self.document, "inner_contours", on))
            self._show_inner_contours(self.document.inner_contours)  # on if the fill was not saved

    def _show_inner_contours(self, on: bool) -> None:
        """Make the switch, the settings and every open document agree with ``on``."""
        if self.options.inner.isChecked() != on:
            self.options.inner.blockSignals(True)
            self.options.inner.setChecked(on)
            self.options.inner.blockSignals(False)
        self.settings.inner_contours = on
        self.session.set_inner_contours(on)

    def _update_history(self) -> None:
        doc = self.document
        self.actions_.undo.setEnabled(bool(doc and doc.can_undo))
        self.actions_.redo.setEnabled(bool(doc and doc.can_redo))
        self.actions_.reset.setEnabled(bool(doc is not None and not doc.labels.is_empty))

    def _edit_failed(self, message: str) -> None:
        self.status.error(message)
        self.status.show_not_saved()
        if self.document is not None:
            self.canvas.contours.show(self.document.labels)  # what is really on disk

    # --- tools and classes -------------------------------------------------------------------
    def _tool_changed(self, name: str) -> None:
        tool = self.tools.tools.get(name)
        if tool is None:
            return
        self.toolbar.show_tool(name)
        self.options.show_tool(tool)
        self.canvas.setCursor(Qt.OpenHandCursor if getattr(tool, "navigates", False) else Qt.CrossCursor)
        if name != self.tools.drag_tool():  # picking an editing tool is the start the welcome asks for
            self.status.show_welcome("")
        self.status.show_hint()

    def _size_changed(self, size: int) -> None:
        self.options.show_size(size)
        if self.tools.current is not None and size > 0:
            self.settings.tool_sizes[self.tools.current.name] = size

    def _classes_changed(self, classes: list[ClassInfo]) -> None:
        self._apply_class_colours()
        self.settings.default_classes = list(classes)
        if self.folder is not None:
            try:
                save_classes(self.folder, classes)
            except SettingsError as exc:
                self.status.error(f"Classes not saved: {exc}")

    def _active_class_changed(self, class_id: int) -> None:
        self.canvas.preview.set_colour(self.canvas.contours.colour(class_id))

    def _apply_class_colours(self) -> None:
        self.canvas.contours.set_colours(self.class_panel.colours())
        self._active_class_changed(self.class_panel.active_class)

    # --- dialogs -----------------------------------------------------------------------------
    def show_plugin_errors(self) -> None:
        """Help > Plugin errors: which plugins failed to load, with tracebacks."""
        failures = list(getattr(self.registry, "failures", []))
        if not failures:
            return
        self.plugin_dialog = PluginErrorsDialog(failures, self)
        self.plugin_dialog.show()

    def show_keys(self) -> None:
        """Help > Keys: every shortcut of the window, read from its actions (so the list is never stale)."""
        self.keys_dialog = KeysDialog(self)
        self.keys_dialog.show()

    # --- settings ----------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        if self.settings.geometry:
            self.restoreGeometry(QByteArray.fromBase64(self.settings.geometry.encode()))
        if self.settings.window_state:
            self.restoreState(QByteArray.fromBase64(self.settings.window_state.encode()))

    def _save_settings(self) -> None:
        try:
            self.settings.save()
        except SettingsError as exc:
            self.status.error(str(exc))

    def closeEvent(self, event: QCloseEvent) -> None:
        """Remember the layout and stop background work."""
        self.settings.geometry = bytes(self.saveGeometry().toBase64()).decode()
        self.settings.window_state = bytes(self.saveState().toBase64()).decode()
        self._save_settings()
        self.models.shutdown()
        self.postprocess.shutdown()
        self.assist.cancel(quiet=True)
        # no wait: a read still running ends on the shared pool, its results cut off
        self.loader.abandon()
        self.scanner.abandon()
        self.folder_watch.stop()
        super().closeEvent(event)


def _suffixes() -> list[str]:
    from mia_core.images import IMAGE_SUFFIXES

    return list(IMAGE_SUFFIXES)
