"""What the status bar and dialogs say stays true: no message about labels that are gone, a pixel
readout for the frame on screen and only over the image, GUI words instead of command-line flags,
and a question before the stack switch hides labels."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PyQt5.QtCore import QEvent, Qt
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QApplication, QCheckBox, QLabel, QPushButton

from mia_core.label_store import label_path, load_labels
from mia_core.labels import LabelSet
from mia_core.viewer.gui_text import CONTROLS, speak_gui
from mia_core.viewer.keys_dialog import _menu_paths

from viewer_helpers import answer_next_question, wait_loaded


def _square(x0: int, y0: int, side: int) -> np.ndarray:
    return np.array([(x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side)], dtype=np.float64)


def test_a_prediction_message_goes_when_ctrl_z_takes_the_prediction_back(make_window, image_folder):
    w = make_window(image_folder)
    QTest.keyClick(w, Qt.Key_F3)
    predicted = LabelSet().add_polygon(_square(20, 20, 30), 1)
    w.models._apply_current(w.document, predicted, None, "a_blobs.png")  # as a finished prediction does
    assert w.status.message.text() == "Predicted a_blobs.png: 1 region(s). Ctrl+Z takes the prediction back"
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    assert w.document.labels.is_empty
    assert "Ctrl+Z takes" not in w.status.message.text()
    assert w.status.message.text().startswith("Polygon (add): ")  # back to what the tool does


def test_pixel_readout_follows_the_frame_and_stays_on_the_image(make_window, mouse_for, image_folder, qtbot):
    w = make_window(image_folder)
    w.image_list.select(image_folder / "c_stack.tif")
    wait_loaded(qtbot, w, "c_stack.tif")
    stack = tifffile.imread(image_folder / "c_stack.tif")
    mouse = mouse_for(w)
    mouse.move(30, 20)
    assert w.status.position.text() == "x 30, y 20"
    assert w.status.value.text() == f"value {stack[0, 20, 30]}"
    QTest.keyClick(w, Qt.Key_Period)  # next frame, the pointer has not moved
    assert w.frame == 1 and stack[1, 20, 30] != stack[0, 20, 30]
    assert w.status.value.text() == f"value {stack[1, 20, 30]}"
    mouse.move(-6, 40)  # beside the image, still on the canvas
    assert w.status.position.text() == "" and w.status.value.text() == ""
    mouse.move(30, 20)
    assert w.status.position.text() == "x 30, y 20"
    QApplication.sendEvent(w.canvas, QEvent(QEvent.Leave))  # the pointer leaves the canvas
    assert w.status.position.text() == "" and w.status.value.text() == ""


def _engine_messages(tmp_path) -> list[str]:
    """Messages the training engine really raises, which reach the training window or the status bar."""
    from mia_core.engine import dataset
    from mia_core.engine.config import ConfigError
    from mia_core.engine.train import check_fresh_folder

    out: list[str] = []
    small = [type("S", (), {"target": np.zeros((100, 600))})()]
    with pytest.raises(dataset.TrainingDataError) as too_big:
        dataset._check_patch_fits(small, 128)
    out.append(str(too_big.value))
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    with pytest.raises(ConfigError) as taken:
        check_fresh_folder(model)
    out.append(str(taken.value))
    return out


def test_gui_messages_name_the_controls_not_command_line_flags(make_window, image_folder, tmp_path):
    too_big, taken = _engine_messages(tmp_path)
    assert "--patch 96" in too_big and "--overwrite" in taken  # what the command line shows
    assert "set Patch size to 96 or smaller" in speak_gui(too_big)
    assert "tick “Replace the model in this folder”" in speak_gui(taken)
    w = make_window(image_folder)
    w.status.error(f"Cannot train: {too_big}")
    assert "--" not in w.status.message.text() and "Patch size to 96" in w.status.message.text()
    window = w.models.open_training()
    window._show_error(f"Cannot train: {taken}")
    assert "--" not in window.outcome.text() and "Model folder" in window.outcome.text()
    # the controls the rewritten messages name exist in the app
    texts = {x.text().replace("&", "") for cls in (QLabel, QCheckBox, QPushButton) for x in window.findChildren(cls)}
    menus = set(_menu_paths(w).values())
    missing = [c for c in CONTROLS if not (c.rstrip("…") in menus if " > " in c else any(c in t for t in texts))]
    assert not missing, missing
    window.close()


def test_one_label_for_the_stack_asks_before_hiding_frame_labels(make_window, mouse_for, image_folder, qtbot):
    w = make_window(image_folder)
    w.image_list.select(image_folder / "c_stack.tif")
    wait_loaded(qtbot, w, "c_stack.tif")
    tif = image_folder / "c_stack.tif"
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F3)
    for x, y in [(10, 10), (40, 10), (40, 40), (10, 40)]:
        mouse.click(x, y)
    mouse.click(10, 45, Qt.RightButton)
    assert len(load_labels(label_path(tif, 0))) == 1
    asked: list[str] = []
    answer_next_question(qtbot, "Cancel", asked)
    qtbot.mouseClick(w.frame_slider.shared, Qt.LeftButton, pos=w.frame_slider.shared.rect().center())
    assert asked and asked[0].startswith("stackLabelsQuestion: 1 frame(s) of c_stack.tif have their own labels")
    assert not w.frame_slider.shared.isChecked()  # cancelled: nothing switched
    assert w.document.path == label_path(tif, 0) and len(w.document.labels) == 1
    answer_next_question(qtbot, "Switch", asked)
    qtbot.mouseClick(w.frame_slider.shared, Qt.LeftButton, pos=w.frame_slider.shared.rect().center())
    assert len(asked) == 2 and w.frame_slider.shared.isChecked()
    assert w.document.path == label_path(tif) and w.document.labels.is_empty
    # back to per-frame: the shared label is empty, so nothing is hidden and nothing is asked
    qtbot.mouseClick(w.frame_slider.shared, Qt.LeftButton, pos=w.frame_slider.shared.rect().center())
    assert len(asked) == 2 and w.document.path == label_path(tif, 0)


def test_a_message_too_long_for_the_bar_ends_with_an_ellipsis_and_keeps_its_whole_text(qtbot):
    """A cut-off message says it is cut ("…"); the tooltip and text() still hold all of it."""
    from PyQt5.QtWidgets import QMainWindow

    from mia_core.viewer.status import StatusBar

    window = QMainWindow()
    qtbot.addWidget(window)
    bar = StatusBar()
    window.setStatusBar(bar)
    window.resize(700, 300)
    window.show()
    bar.info("Loading cancelled")
    qtbot.waitUntil(lambda: bar.message.width() > 0)
    assert bar.message.shown_text() == "Loading cancelled"  # one that fits is shown whole
    long = "Cannot predict: rgb.png has 3 channel(s) (RGB) but the model was trained on 1-channel (grey) images"
    bar.error(long)
    shown = bar.message.shown_text()
    assert shown.endswith("…") and long.startswith(shown[:-1]) and len(shown) < len(long)
    assert bar.message.text() == long and bar.message.toolTip() == long
