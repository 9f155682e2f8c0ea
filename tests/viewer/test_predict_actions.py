"""Predicting from the app: the current image (undoable), the visible part only, the whole folder,
and clear refusals (no model, a model folder that is not one, RGB images for a grey model).

One tiny model is trained once for the module with the engine; the app loads it through
Model > Load model… and every prediction is compared with the engine's own prediction of the same
pixels, and with the bright blobs the model learnt to find.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PyQt5.QtCore import QPoint, Qt, QTimer
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QAction, QApplication, QMessageBox

import mia_core.viewer.predict_actions as predict_actions
from mia_core.engine.config import TrainConfig
from mia_core.label_store import label_path, load_labels
from mia_core.raster import labels_from_class_map
from training_helpers import TINY_ARCH, TINY_BACKBONE, activate, labelled_folder, save_screenshot, training_registry
from viewer_helpers import IMAGE_SHAPE, blob_image, wait_loaded

PREDICT_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny U-Net trained for 60 steps on labelled blob images (enough to find bright blobs)."""
    from mia_core.engine.train import train_folder

    root = tmp_path_factory.mktemp("predict_model")
    config = TrainConfig(architecture=TINY_ARCH, backbone=TINY_BACKBONE, patch_size=64, batch_size=4,
                         steps_per_epoch=60, epochs=1, learning_rate=3e-3, early_stopping=0, max_val_patches=4)
    result = train_folder(labelled_folder(root / "train", 3), config, root / "model", registry=training_registry())
    return result.model_dir


@pytest.fixture(scope="module")
def reference(model_dir):
    """The engine's own prediction: (frame, box) -> class map, for comparing with what the app wrote."""
    from mia_core.engine.checkpoint import load_model
    from mia_core.engine.predict import predict_frame

    model, info = load_model(model_dir, training_registry())

    def predict(frame: np.ndarray, box=None, tta: bool = False) -> np.ndarray:
        fov = None if box is None else (box[0], box[1], box[2] - box[0], box[3] - box[1])
        return predict_frame(model, frame, info, fov=fov, tta=tta)

    return predict


def as_labels(class_map: np.ndarray):
    return labels_from_class_map(class_map, ignore=(-1, 0))


def load_in_app(qtbot, w, folder, monkeypatch):
    """Model > Load model…, the folder dialog answered with ``folder``."""
    monkeypatch.setattr(predict_actions.QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    w.findChild(QAction, "load_model").trigger()
    qtbot.waitUntil(lambda: not w.models.busy, timeout=PREDICT_TIMEOUT_MS)


def press(qtbot, w, key, mods=Qt.NoModifier) -> None:
    """A key on the main window, and wait for the prediction it starts to be written."""
    QTest.keyClick(w, key, mods)
    qtbot.waitUntil(lambda: not w.models.busy, timeout=PREDICT_TIMEOUT_MS)


def draw_polygon(qtbot, w, mouse, points) -> None:
    """The polygon tool: click the corners, right click closes it."""
    QTest.keyClick(w, Qt.Key_F3)
    for x, y in points:
        mouse.click(x, y)
    mouse.click(*points[0], Qt.RightButton)


def answer_question(qtbot, button_text: str) -> None:
    """Click ``button_text`` in the next message box as soon as it shows."""
    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        for button in box.buttons():
            if button.text() == button_text:
                qtbot.mouseClick(button, Qt.LeftButton)
                return
        raise AssertionError(f"no button {button_text!r} in {[b.text() for b in box.buttons()]}")

    QTimer.singleShot(0, click)


def blob_iou(class_map: np.ndarray, image: np.ndarray) -> float:
    """How well the predicted class 1 covers the bright blobs of a generated image."""
    pred, truth = class_map == 1, image > 100
    return np.count_nonzero(pred & truth) / max(np.count_nonzero(pred | truth), 1)


def test_predict_current_image_writes_labels_and_ctrl_z_takes_them_back(make_window, mouse_for, image_folder, qtbot,
                                                                       model_dir, reference, monkeypatch):
    w = make_window(image_folder, training_registry())
    mouse = mouse_for(w)
    target = label_path(image_folder / "a_blobs.png")
    press(qtbot, w, Qt.Key_P, Qt.ControlModifier)
    assert w.status.last_error == predict_actions.NO_MODEL and not target.exists()

    load_in_app(qtbot, w, model_dir, monkeypatch)
    assert w.models.model is not None and w.models.model.folder == model_dir
    assert w.models.last_message.startswith("Model loaded: model (unet_tiny/plain_tiny, 2 classes, 1-channel")
    draw_polygon(qtbot, w, mouse, [(10, 10), (40, 10), (40, 40), (10, 40)])
    drawn = load_labels(target)
    assert len(drawn) == 1

    press(qtbot, w, Qt.Key_P, Qt.ControlModifier)
    image = w.current_frame()
    expected = reference(image)
    assert blob_iou(expected, image) > 0.6  # the model does find the blobs
    written = load_labels(target)
    assert written.same_as(as_labels(expected)) and len(written) >= 2
    assert w.document.labels.same_as(written)
    assert "Ctrl+Z takes the prediction back" in w.models.last_message
    assert w.image_list.state(image_folder / "a_blobs.png") == "labelled"
    save_screenshot(w, "11_predicted_image")

    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    assert load_labels(target).same_as(drawn) and w.document.labels.same_as(drawn)
    assert "Ctrl+Z takes the prediction back" not in w.status.message.text()  # that message is stale now
    QTest.keyClick(w, Qt.Key_Y, Qt.ControlModifier)
    assert load_labels(target).same_as(written)


def test_predict_field_of_view_labels_only_the_visible_part(make_window, mouse_for, image_folder, qtbot, model_dir,
                                                          reference, monkeypatch):
    w = make_window(image_folder, training_registry())
    mouse = mouse_for(w)
    load_in_app(qtbot, w, model_dir, monkeypatch)
    draw_polygon(qtbot, w, mouse, [(4, 4), (150, 4), (150, 110), (4, 110)])  # the user's big contour
    before = w.document.labels.to_class_map(IMAGE_SHAPE)

    # zoom in with the wheel (drag tool) on the biggest blob
    image = blob_image(IMAGE_SHAPE, 1)
    n, _, stats, centroids = cv2.connectedComponentsWithStats((image > 100).astype(np.uint8))
    cx, cy = centroids[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))]
    QTest.keyClick(w, Qt.Key_F1)
    mouse.wheel(cx, cy, 4)
    QTest.qWait(50)  # the view is redrawn at its new range
    viewport = w.canvas.viewport()
    left, top = w.canvas.widget_to_image(QPoint(0, 0))
    right, bottom = w.canvas.widget_to_image(QPoint(viewport.width(), viewport.height()))
    seen = (int(np.floor(left + 0.5)), int(np.floor(top + 0.5)), int(np.ceil(right + 0.5)), int(np.ceil(bottom + 0.5)))
    box = w.models.visible_box()
    assert box is not None and np.abs(np.subtract(box, [max(seen[0], 0), max(seen[1], 0),
                                                         min(seen[2], 160), min(seen[3], 120)])).max() <= 1
    x0, y0, x1, y1 = box
    assert (x1 - x0) * (y1 - y0) < 0.5 * 160 * 120  # really a part of the image

    press(qtbot, w, Qt.Key_P, Qt.ControlModifier | Qt.ShiftModifier)
    after = w.document.labels.to_class_map(IMAGE_SHAPE)
    inside = np.zeros(IMAGE_SHAPE, bool)
    inside[y0:y1, x0:x1] = True
    expected = reference(w.current_frame(), box)
    assert np.array_equal(after[~inside], before[~inside])  # outside the view nothing changed
    assert np.array_equal(after[inside], np.where(expected == 0, -1, expected)[inside])
    assert np.count_nonzero(after[inside] == 1) > 50  # the blob under the view was found
    assert load_labels(label_path(image_folder / "a_blobs.png")).same_as(w.document.labels)
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    assert np.array_equal(w.document.labels.to_class_map(IMAGE_SHAPE), before)


def test_predict_whole_folder_labels_every_image(make_window, mouse_for, image_folder, qtbot, model_dir, reference,
                                                monkeypatch):
    from mia_core.images import read_image

    rgb = np.dstack([blob_image(IMAGE_SHAPE, 7)] * 3)
    rgb[..., 0] //= 2
    cv2.imwrite(str(image_folder / "e_colour.png"), rgb)
    w = make_window(image_folder, training_registry())
    mouse = mouse_for(w)
    load_in_app(qtbot, w, model_dir, monkeypatch)
    draw_polygon(qtbot, w, mouse, [(10, 10), (40, 10), (40, 40), (10, 40)])
    drawn = w.document.labels

    # only the images without labels
    answer_question(qtbot, "Only unlabelled images")
    w.findChild(QAction, "predict_folder").trigger()
    qtbot.waitUntil(lambda: not w.models.busy, timeout=PREDICT_TIMEOUT_MS)
    message = w.status.last_error
    assert message.startswith("Predicted 4 image(s)/frame(s) of 2 image(s); skipped 1: e_colour.png: ")
    assert "has 3 channel(s) (RGB) but the model model was trained on 1-channel (grey) images" in message
    assert w.document.labels is drawn and load_labels(label_path(image_folder / "a_blobs.png")).same_as(drawn)
    b = read_image(image_folder / "b_blobs.png")[0]
    assert load_labels(label_path(image_folder / "b_blobs.png")).same_as(as_labels(reference(b)))
    assert blob_iou(reference(b), b) > 0.6
    stack = read_image(image_folder / "c_stack.tif")
    for f in range(3):
        assert load_labels(label_path(image_folder / "c_stack.tif", f)).same_as(as_labels(reference(stack[f])))
    assert not label_path(image_folder / "c_stack.tif").exists()
    assert not label_path(image_folder / "e_colour.png").exists()
    assert not label_path(image_folder / "d_broken.png").exists()
    for name in ("a_blobs.png", "b_blobs.png", "c_stack.tif"):
        assert w.image_list.state(image_folder / name) == "labelled"

    # again, replacing the labels: the open image gets them through its document (undoable)
    answer_question(qtbot, "Replace labels")
    w.findChild(QAction, "predict_folder").trigger()
    qtbot.waitUntil(lambda: not w.models.busy, timeout=PREDICT_TIMEOUT_MS)
    a = w.current_frame()
    assert w.document.labels.same_as(as_labels(reference(a)))
    assert load_labels(label_path(image_folder / "a_blobs.png")).same_as(w.document.labels)
    activate(qtbot, w)
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    assert w.document.labels.same_as(drawn)

    # cancelling the question changes nothing
    before = {p.name: p.stat().st_mtime_ns for p in (image_folder / "Segmentation_labels").glob("*.npz")}
    answer_question(qtbot, "Cancel")
    w.findChild(QAction, "predict_folder").trigger()
    assert not w.models.busy
    assert {p.name: p.stat().st_mtime_ns for p in (image_folder / "Segmentation_labels").glob("*.npz")} == before


def test_refusals_no_model_bad_model_folder_and_rgb_images(make_window, qtbot, tmp_path, model_dir, monkeypatch):
    folder = tmp_path / "colour"
    folder.mkdir()
    cv2.imwrite(str(folder / "rgb.png"), np.dstack([blob_image(IMAGE_SHAPE, 3)] * 3))
    w = make_window(folder, training_registry())
    for name in ("predict_image", "predict_view", "predict_folder"):
        w.findChild(QAction, name).trigger()
        assert w.status.last_error == predict_actions.NO_MODEL
    not_a_model = tmp_path / "not_a_model"
    not_a_model.mkdir()
    load_in_app(qtbot, w, not_a_model, monkeypatch)
    assert w.models.model is None
    assert w.status.last_error == (f"Cannot load model: model folder {not_a_model} has no config.json: "
                                   "it is not a trained mia model")
    load_in_app(qtbot, w, model_dir, monkeypatch)
    press(qtbot, w, Qt.Key_P, Qt.ControlModifier)
    assert w.status.last_error == ("Cannot predict: rgb.png has 3 channel(s) (RGB) but the model model was trained "
                                   "on 1-channel (grey) images")
    assert not w.models.busy and not label_path(folder / "rgb.png").exists()
    # the app goes on: drawing still works on this image
    QTest.keyClick(w, Qt.Key_F2)
    assert w.tools.current.name == "draw"
    wait_loaded(qtbot, w)


@pytest.mark.parametrize("how", ["escape", "cancel button"])
def test_escape_stops_a_folder_prediction_and_keeps_what_was_written(make_window, image_folder, qtbot, model_dir,
                                                                     monkeypatch, how):
    import threading

    import mia_core.engine.predict as engine_predict

    w = make_window(image_folder, training_registry())
    load_in_app(qtbot, w, model_dir, monkeypatch)
    real = engine_predict.predict_frame
    gate, reached = threading.Event(), threading.Event()

    def slow_on_b(model, frame, info, *args, source="image", **kwargs):
        if source.startswith("b_blobs"):
            reached.set()
            gate.wait(30)
        return real(model, frame, info, *args, source=source, **kwargs)

    monkeypatch.setattr(engine_predict, "predict_frame", slow_on_b)
    w.findChild(QAction, "predict_folder").trigger()  # nothing is labelled yet: no question
    panel = w.status.progress
    qtbot.waitUntil(lambda: reached.is_set() and panel.isVisible(), timeout=PREDICT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: label_path(image_folder / "a_blobs.png").exists())
    assert panel.text.text() == "Predicting 3 image(s)"  # named by the bar, not twice in the status bar
    assert "Predicting" not in w.status.message.text()
    if how == "escape":
        QTest.keyClick(w, Qt.Key_Escape)
    else:
        qtbot.mouseClick(panel.cancel_button, Qt.LeftButton)
    assert not panel.isVisible() and panel.task is None  # the bar goes at once
    assert w.status.message.text() != "Loading cancelled"  # the bar's cancel is not taken for a load's
    gate.set()
    qtbot.waitUntil(lambda: not w.models.busy, timeout=PREDICT_TIMEOUT_MS)
    w.models.runner.wait(10000)
    qtbot.wait(50)
    assert w.status.last_error == "Prediction cancelled after 1 image(s)/frame(s); those keep their new labels"
    assert label_path(image_folder / "a_blobs.png").exists()
    assert not label_path(image_folder / "b_blobs.png").exists()  # finished after Cancel: dropped
    assert not any(label_path(image_folder / "c_stack.tif", f).exists() for f in range(3))


def spy_on_jobs(monkeypatch) -> list[tuple[str, bool]]:
    """Record the ``tta`` of every prediction job the Model menu starts; the real jobs still run."""
    calls: list[tuple[str, bool]] = []
    for name in ("predict_frame_job", "predict_folder_job"):
        def spy(*args, _real=getattr(predict_actions, name), _name=name, **kwargs):
            calls.append((_name, kwargs.get("tta", False)))
            return _real(*args, **kwargs)

        monkeypatch.setattr(predict_actions, name, spy)
    return calls


def test_test_time_flips_reach_every_prediction_and_are_remembered(make_window, image_folder, qtbot, model_dir,
                                                                   reference, monkeypatch, isolated_settings):
    w = make_window(image_folder, training_registry())
    load_in_app(qtbot, w, model_dir, monkeypatch)
    flips = w.models.actions.tta
    model_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Model")
    assert flips in model_menu.actions() and flips.objectName() == "test_time_flips"
    assert flips.isCheckable() and not flips.isChecked()  # off by default: 4x the time
    calls = spy_on_jobs(monkeypatch)

    flips.trigger()
    assert flips.isChecked()
    activate(qtbot, w)
    press(qtbot, w, Qt.Key_P, Qt.ControlModifier)
    image = w.current_frame()
    assert w.document.labels.same_as(as_labels(reference(image, tta=True)))  # the flipped average was written
    press(qtbot, w, Qt.Key_P, Qt.ControlModifier | Qt.ShiftModifier)
    answer_question(qtbot, "Replace labels")
    w.findChild(QAction, "predict_folder").trigger()
    qtbot.waitUntil(lambda: not w.models.busy, timeout=PREDICT_TIMEOUT_MS)
    assert calls == [("predict_frame_job", True), ("predict_frame_job", True), ("predict_folder_job", True)]
    assert w.document.labels.same_as(as_labels(reference(image, tta=True)))

    flips.trigger()  # off again: the next prediction is a plain one
    activate(qtbot, w)
    press(qtbot, w, Qt.Key_P, Qt.ControlModifier)
    assert calls[-1] == ("predict_frame_job", False)
    assert w.document.labels.same_as(as_labels(reference(image)))

    flips.trigger()
    w.close()  # the choice is saved with the other settings ...
    assert json.loads((isolated_settings / "settings.json").read_text())["tta"] is True
    again = make_window(image_folder, training_registry())  # ... and comes back in the next session
    assert again.models.actions.tta.isChecked()


def test_prediction_is_postprocessed_as_the_models_training_objects_imply(make_window, image_folder, qtbot, tmp_path,
                                                                        model_dir, reference, monkeypatch):
    """The app applies the defaults mia predict applies: objects under a quarter of the stored median go."""
    import shutil

    from mia_core.engine.checkpoint import read_model_info
    from mia_core.object_scale import model_postprocessing
    from mia_core.results import postprocess_by_class

    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder, ignore=shutil.ignore_patterns("checkpoint"))
    config = json.loads((folder / "config.json").read_text())
    from mia_core.images import read_image

    sizes = sorted(c.pixel_count for c in as_labels(reference(read_image(image_folder / "a_blobs.png")[0])).contours)
    assert len(sizes) >= 2 and sizes[0] < sizes[-1]
    cut = sizes[-1]  # only the largest blob is kept
    config["objects"] = {"1": {"count": 10, "median_area": 4.0 * cut, "touching": False}}
    (folder / "config.json").write_text(json.dumps(config))
    w = make_window(image_folder, training_registry())
    load_in_app(qtbot, w, folder, monkeypatch)
    assert f"postprocessing from the model's training objects: class 1: drop under {cut} px" in w.models.last_message
    press(qtbot, w, Qt.Key_P, Qt.ControlModifier)
    expected = as_labels(reference(w.current_frame()))
    kept = postprocess_by_class(training_registry(), expected, model_postprocessing(read_model_info(folder)))
    assert len(kept) == 1 < len(expected)
    assert load_labels(label_path(image_folder / "a_blobs.png")).same_as(kept)
    assert w.models.last_message.startswith("Predicted a_blobs.png: 1 region(s). Ctrl+Z takes the prediction back; ")
    assert w.models.last_message.endswith(f"drop under {cut} px")
