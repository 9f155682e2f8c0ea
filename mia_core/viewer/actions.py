"""The window's menus and keyboard shortcuts, in one place so the keys are easy to find."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QAction, QMainWindow, QShortcut

from mia_core.viewer.autoseg_actions import build_assist_menu
from mia_core.viewer.mask_actions import build_mask_menu
from mia_core.viewer.postprocess_window import build_postprocess_menu
from mia_core.viewer.predict_actions import build_model_menu
from mia_core.viewer.results_window import open_results

#: What the mouse does (the Keys dialog lists these beside the keys it reads from the actions).
MOUSE = (
    ("right click", "next mode of the tool (add / delete / slice; expand / erase); closes a polygon"),
    ("wheel", "zoom (drag tool) / brush size (brush tool)"),
    ("middle button", "pan, in every tool"),
)


@dataclass
class Actions:
    """The QActions other widgets (tool bar, tests) refer to."""

    open_folder: QAction
    undo: QAction
    redo: QAction
    reset: QAction
    all_background: QAction
    fit: QAction
    show_contours: QAction
    plugin_errors: QAction
    quit: QAction


def _action(window: QMainWindow, text: str, slot: Callable[[], object],
            keys: tuple[str | QKeySequence.StandardKey, ...] = (), name: str = "") -> QAction:
    action = QAction(text, window)
    action.setObjectName(name or text.lower().replace(" ", "_").strip("…."))
    if keys:
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.WindowShortcut)
    action.triggered.connect(lambda _checked=False: slot())
    window.addAction(action)  # shortcuts work even when a menu is hidden
    return action


def build_actions(window: "object") -> Actions:
    """Create the menu bar and shortcuts of a MainWindow (``window`` provides the slots)."""
    w = window
    acts = Actions(
        open_folder=_action(w, "Open folder…", w.choose_folder, ("Ctrl+O",), "open_folder"),
        undo=_action(w, "Undo", w.undo, ("Ctrl+Z",), "undo"),
        redo=_action(w, "Redo", w.redo, ("Ctrl+Shift+Z", "Ctrl+Y"), "redo"),
        reset=_action(w, "Reset labels…", w.confirm_reset, (), "reset"),
        all_background=_action(w, "Mark all background", w.mark_all_background, (), "all_background"),
        fit=_action(w, "Fit to window", w.canvas.fit, ("Ctrl+0",), "fit"),
        show_contours=_action(w, "Show contours", lambda: None, ("Ctrl+H",), "show_contours"),
        plugin_errors=_action(w, "Plugin errors…", w.show_plugin_errors, (), "plugin_errors"),
        quit=_action(w, "Quit", w.close, ("Ctrl+Q",), "quit"),
    )
    acts.show_contours.setCheckable(True)
    acts.show_contours.setChecked(True)
    acts.show_contours.toggled.connect(w.canvas.contours.set_visible)
    acts.all_background.setToolTip("Label this whole image (or frame) as background, class 0: it then "
                                    "trains as an image with nothing to find; Ctrl+Z undoes it")
    acts.reset.setToolTip("Remove every contour of this image (or frame); asks first, and can be undone")
    menu = w.menuBar()
    file_menu = menu.addMenu("&File")
    file_menu.addAction(acts.open_folder)
    results_action = file_menu.addAction("Results…")
    results_action.setObjectName("results")
    results_action.triggered.connect(lambda _checked=False: open_results(w))
    build_mask_menu(w, file_menu)  # Import masks…, Export masks…
    file_menu.addSeparator()
    file_menu.addAction(acts.quit)
    edit = menu.addMenu("&Edit")
    for a in (acts.undo, acts.redo, acts.reset, acts.all_background):
        edit.addAction(a)
    view = menu.addMenu("&View")
    view.addAction(acts.fit)
    view.addAction(acts.show_contours)
    build_postprocess_menu(w, edit, view, acts.show_contours)  # Postprocessing…, stack label, object numbers
    build_model_menu(w, menu.addMenu("&Model"))
    assist_menu = menu.addMenu("&Assist")
    w.assist.build_menu(assist_menu)
    build_assist_menu(w, assist_menu, w.options)
    help_menu = menu.addMenu("&Help")
    help_menu.addAction(acts.plugin_errors)
    keys_action = help_menu.addAction("Keys…")
    keys_action.triggered.connect(w.show_keys)

    def key(seq: str | int, slot: Callable[[], object], what: str) -> None:
        sc = QShortcut(QKeySequence(seq), w)
        sc.setContext(Qt.WindowShortcut)
        sc.setWhatsThis(what)  # the Keys dialog reads it
        sc.activated.connect(slot)

    key(Qt.Key_Space, w.tools.toggle_drag, "switch between the drag tool and the last tool")
    key(Qt.Key_PageDown, lambda: w.image_list.step(1), "next image")
    key(Qt.Key_PageUp, lambda: w.image_list.step(-1), "previous image")
    key(Qt.Key_Period, lambda: w.frame_slider.step(1), "next frame of a stack")
    key(Qt.Key_Comma, lambda: w.frame_slider.step(-1), "previous frame of a stack")
    key(Qt.Key_Escape, w.escape,
        "drop the stroke, polygon or DEXTR points in progress; with none, cancel a running "
        "assistant (Smart mode, DEXTR, Auto-seg), a prediction or DEXTR training")
    for digit in range(10):
        key(Qt.Key_0 + digit, lambda d=digit: w.class_panel.set_active(d), "make class 0 … 9 the active class")
    return acts
