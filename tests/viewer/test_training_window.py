"""The training window: settings typed into real widgets, a real (tiny) training on a worker thread
with a live plot, Stop keeping a checkpoint, and bad settings shown while the app goes on.

The network is the real U-Net with the real plain encoder at a small width, added to the registry
through a hand-made entry point (as a third-party plugin would be), so training compiles quickly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor, QImage
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QAction, QApplication

from mia_core.engine.config import TrainConfig
from mia_core.label_store import label_path
from mia_core.viewer.training_plot import EPOCH_COLOUR
from training_helpers import (
    TINY_ARCH,
    TINY_BACKBONE,
    activate,
    labelled_folder,
    save_screenshot,
    training_registry,
)

TRAINING_TIMEOUT_MS = 180_000


# --- real widget input -----------------------------------------------------------------------------
def type_into(qtbot, widget, text: str) -> None:
    """Select what a line edit or spin box shows and type ``text`` over it (or delete it)."""
    widget.setFocus()
    QTest.keyClick(widget, Qt.Key_A, Qt.ControlModifier)
    if text:
        qtbot.keyClicks(widget, text)
    else:
        QTest.keyClick(widget, Qt.Key_Delete)


def choose(qtbot, combo, text: str) -> None:
    """Pick a combo box entry by typing its name (keyboard search), as a user would."""
    QTest.qWait(QApplication.keyboardInputInterval() + 50)  # a new search, not the end of the last one
    combo.setFocus()
    qtbot.keyClicks(combo, text)
    assert combo.currentText() == text


def toggle(widget) -> None:
    """Space on a focused check box (or checkable group box) flips it."""
    widget.setFocus()
    QTest.keyClick(widget, Qt.Key_Space)


def open_training(window):
    """Model > Train… through the window's action."""
    window.findChild(QAction, "train_model").trigger()
    tw = window.models.training
    assert tw is not None and tw.isVisible()
    return tw


def fill_tiny_run(qtbot, tw, out: Path, epochs: int, steps: int) -> None:
    """The settings of a tiny run, typed into the form."""
    form = tw.form
    choose(qtbot, form.combos["architecture"], TINY_ARCH)
    choose(qtbot, form.combos["backbone"], TINY_BACKBONE)
    type_into(qtbot, form.epochs, str(epochs))
    type_into(qtbot, form.steps, str(steps))
    type_into(qtbot, form.batch, "2")
    type_into(qtbot, form.patch, "64")
    type_into(qtbot, form.learning_rate, "0.003")
    type_into(qtbot, form.val_fraction, "0.5")
    type_into(qtbot, tw.out_edit, str(out))


def test_the_settings_start_from_the_defaults_and_list_the_registry(make_window, qtbot, tmp_path):
    registry = training_registry()
    w = make_window(labelled_folder(tmp_path / "images"), registry)
    tw = open_training(w)
    defaults = TrainConfig()
    for attr, kind in (("architecture", "architectures"), ("backbone", "backbones"), ("loss", "losses"),
                       ("metric", "metrics")):
        combo = tw.form.combos[attr]
        assert [combo.itemText(i) for i in range(combo.count())] == registry.names(kind)
        assert combo.currentText() == getattr(defaults, attr)
    assert TINY_BACKBONE in registry.names("backbones")
    # reading the untouched form gives back the defaults (with the class names of the folder)
    shown = tw.form.config(class_names=("background", "class 1"))
    assert shown == defaults.replace(class_names=("background", "class 1"))
    # the model folder is suggested beside the labels and follows the network until edited
    assert Path(tw.out_edit.text()) == w.folder / "Segmentation_models" / f"{defaults.architecture}-{defaults.backbone}"
    choose(qtbot, tw.form.combos["backbone"], TINY_BACKBONE)
    assert Path(tw.out_edit.text()).name == f"{defaults.architecture}-{TINY_BACKBONE}"
    type_into(qtbot, tw.out_edit, str(tmp_path / "mine"))
    choose(qtbot, tw.form.combos["backbone"], "vgg16")
    assert tw.out_edit.text() == str(tmp_path / "mine")
    # dependent fields follow their switches
    assert not tw.form.manual_weights.isEnabled()
    choose(qtbot, tw.form.class_weights, "manual")
    assert tw.form.manual_weights.isEnabled()
    assert tw.form.border_w0.isEnabled() == defaults.separate_contours
    toggle(tw.form.separate)
    assert tw.form.border_w0.isEnabled() != defaults.separate_contours


def test_training_runs_in_a_worker_with_a_live_plot_and_saves_a_model(make_window, qtbot, tmp_path, monkeypatch):
    folder = labelled_folder(tmp_path / "images")
    w = make_window(folder, training_registry())
    tw = open_training(w)
    out = tmp_path / "model"
    fill_tiny_run(qtbot, tw, out, epochs=2, steps=4)
    toggle(tw.form.separate)  # on: border weights between touching blobs
    toggle(tw.form.augment)  # off: no augmentation at all
    type_into(qtbot, tw.form.border_sigma, "3")
    assert not tw.form.augment.isChecked() and tw.form.separate.isChecked()

    threads = []
    import mia_core.engine.train as train_module

    real_train = train_module.train_folder

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real_train(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_folder", spy)
    qtbot.mouseClick(tw.start_button, Qt.LeftButton)
    assert tw.running and not tw.start_button.isEnabled() and tw.stop_button.isEnabled()
    assert not tw.form.isEnabled()
    # the app stays usable while the network trains
    activate(qtbot, w)
    QTest.keyClick(w, Qt.Key_F2)
    assert w.tools.current.name == "draw"
    qtbot.waitUntil(lambda: tw.plot.points > 0, timeout=TRAINING_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not tw.running, timeout=TRAINING_TIMEOUT_MS)
    assert threads and threads[0] is not threading.main_thread()
    assert tw.outcome.text().startswith("Finished: 2 epoch(s), best iou"), tw.outcome.text()
    assert str(out) in tw.outcome.text()
    assert tw.start_button.isEnabled() and not tw.stop_button.isEnabled() and tw.form.isEnabled()
    assert tw.bar.value() == tw.bar.maximum() == 8

    # the model folder holds what was typed in
    info = json.loads((out / "config.json").read_text())
    assert (info["architecture"], info["backbone"], info["in_channels"]) == (TINY_ARCH, TINY_BACKBONE, 1)
    t = info["train"]
    assert (t["epochs"], t["steps_per_epoch"], t["batch_size"], t["patch_size"]) == (2, 4, 2, 64)
    assert t["learning_rate"] == 0.003 and t["val_fraction"] == 0.5
    assert t["separate_contours"] is True and t["border_sigma"] == 3.0
    assert t["augment"]["flip"] is False and t["augment"]["affine"] == 0.0 and t["augment"]["noise"] == 0.0
    assert info["class_names"] == [c.name for c in w.class_panel.classes][:2]

    # the plot shows every step and every epoch, the same numbers the engine saved
    h = tw.plot.history
    saved = json.loads((out / "checkpoint" / "progress.json").read_text())["history"]
    assert len(h.step_loss) == 8 and h.step_x[-1] == pytest.approx(2.0)
    assert h.epoch_loss == pytest.approx([e["loss"] for e in saved])
    assert h.metric == pytest.approx([e["iou"] for e in saved])
    for epoch in range(2):  # per-step losses recovered from the running means average to the epoch loss
        assert np.mean(h.step_loss[4 * epoch: 4 * epoch + 4]) == pytest.approx(h.epoch_loss[epoch], rel=1e-4)
    x, y = tw.plot.step_curve.getData()
    assert len(x) == 8 and np.allclose(y, h.step_loss)
    x, y = tw.plot.metric_curve.getData()
    assert list(x) == [1.0, 2.0]

    # the new model is loaded for predictions
    qtbot.waitUntil(lambda: w.models.model is not None, timeout=60000)
    assert w.models.model.folder == out
    assert w.models.last_message.startswith("Model loaded: model (unet_tiny/plain_tiny")

    shot = save_screenshot(tw, "09_training_window")
    plot_pixels = grab_array(tw.plot.loss_plot)
    assert near(plot_pixels, QColor(*EPOCH_COLOUR).name()).sum() > 20  # the epoch markers are drawn
    assert shot.stat().st_size > 0


def test_stop_ends_the_run_at_the_next_step_and_keeps_the_checkpoint(make_window, qtbot, tmp_path):
    folder = labelled_folder(tmp_path / "images")
    w = make_window(folder, training_registry())
    tw = open_training(w)
    out = tmp_path / "model"
    out.mkdir()
    (out / "config.json").write_text("{}")  # a model is already there
    fill_tiny_run(qtbot, tw, out, epochs=50, steps=500)
    qtbot.mouseClick(tw.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not tw.running, timeout=60000)
    assert "already holds a model" in tw.outcome.text() and "Replace the model" in tw.outcome.text()
    assert tw.outcome.styleSheet().startswith("color: #d70015")
    assert (out / "config.json").read_text() == "{}"  # nothing was touched

    toggle(tw.replace)
    qtbot.mouseClick(tw.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(tw.plot.history.step_loss) >= 2, timeout=TRAINING_TIMEOUT_MS)
    assert tw.eta.text().startswith("Epoch 1/50, step ") and " left" in tw.eta.text()
    save_screenshot(tw, "10_training_running")
    qtbot.mouseClick(tw.stop_button, Qt.LeftButton)
    assert not tw.stop_button.isEnabled() and tw.eta.text() == "Stopping after this step…"
    qtbot.waitUntil(lambda: not tw.running, timeout=TRAINING_TIMEOUT_MS)
    assert tw.outcome.text().startswith("Stopped by you after 0 epoch(s)"), tw.outcome.text()
    progress = json.loads((out / "checkpoint" / "progress.json").read_text())
    assert progress["epoch"] == 0  # no epoch finished: resume starts the first one again
    assert progress["global_step"] == len(tw.plot.history.step_loss) < 500
    assert (out / "checkpoint" / "state.msgpack").stat().st_size > 0
    assert json.loads((out / "config.json").read_text())["architecture"] == TINY_ARCH
    assert (out / "weights.msgpack").stat().st_size > 0
    assert tw.start_button.isEnabled()
    qtbot.waitUntil(lambda: w.models.model is not None, timeout=60000)


@pytest.mark.parametrize(
    "change,message,in_worker",
    [
        ({"patch": "128"}, "patch size 128 is larger than every training image", True),
        ({"patch": "100"}, "setting 'patch_size' must be a positive multiple of 32, got 100", False),
        ({"lr": "fast"}, "setting 'learning_rate' must be a number, got 'fast'", False),
        ({"manual": "1, x"}, "setting 'manual_class_weights' takes numbers separated by commas", False),
        ({"unlabelled": True}, "no labelled images in", True),
        ({"loss": "always_nan"}, "the loss became NaN at step 1 (epoch 1) before any checkpoint was saved", True),
    ],
)
def test_bad_settings_show_the_error_and_the_app_goes_on(make_window, qtbot, tmp_path, change, message, in_worker):
    folder = labelled_folder(tmp_path / "train")
    if change.get("unlabelled"):
        for path in folder.glob("*.png"):
            label_path(path).unlink()
    w = make_window(folder, training_registry())
    tw = open_training(w)
    fill_tiny_run(qtbot, tw, tmp_path / "model", epochs=1, steps=2)
    if "patch" in change:
        type_into(qtbot, tw.form.patch, change["patch"])
    if "lr" in change:
        type_into(qtbot, tw.form.learning_rate, change["lr"])
    if "loss" in change:
        choose(qtbot, tw.form.combos["loss"], change["loss"])
    if "manual" in change:
        choose(qtbot, tw.form.class_weights, "manual")
        type_into(qtbot, tw.form.manual_weights, change["manual"])
    qtbot.mouseClick(tw.start_button, Qt.LeftButton)
    assert (tw.run is not None) == in_worker  # refused at once, or by the engine in the worker
    # the NaN case compiles a network first: minutes on a loaded 2-core machine
    qtbot.waitUntil(lambda: not tw.running and tw.outcome.text() != "", timeout=300000)
    text = tw.outcome.text()
    assert text.startswith("Cannot train: ") and message in text, text
    assert "Traceback" not in tw.outcome.toolTip()
    assert not (tmp_path / "model" / "weights.msgpack").exists()
    assert tw.start_button.isEnabled() and tw.form.isEnabled() and tw.isVisible()
    # the app goes on: the next image opens and the window can be used again
    activate(qtbot, w)
    QTest.keyClick(w, Qt.Key_PageDown)
    qtbot.waitUntil(lambda: w.image is not None and w.image_list.list.currentRow() == 1 and not w.loader.busy)
    type_into(qtbot, tw.form.patch, "96")
    assert tw.form.patch.value() == 96


def test_stop_then_resume_continues_the_run_with_its_saved_settings(make_window, qtbot, tmp_path, monkeypatch):
    folder = labelled_folder(tmp_path / "images")
    val = labelled_folder(tmp_path / "val", 1)
    w = make_window(folder, training_registry())
    tw = open_training(w)
    out = tmp_path / "model"
    fill_tiny_run(qtbot, tw, out, epochs=2, steps=3)
    type_into(qtbot, tw.form.val_folder, str(val))
    assert not tw.resume_button.isEnabled()  # nothing to resume in a new folder

    import mia_core.engine.train as train_module

    splits = []  # (training images, validation images) of every run the engine prepared
    real_prepare = train_module.prepare_training_data

    def spy(*args, **kwargs):
        data = real_prepare(*args, **kwargs)
        splits.append(({s.path.parent for s in data.train}, {s.path.parent for s in data.val}, len(data.train)))
        return data

    monkeypatch.setattr(train_module, "prepare_training_data", spy)
    qtbot.mouseClick(tw.start_button, Qt.LeftButton)
    run = tw.run  # stop as soon as the first epoch is validated (on the worker thread: no race)
    run.progressed.connect(lambda p: p.phase == "epoch" and p.epoch == 1 and run.stop(), Qt.DirectConnection)
    qtbot.waitUntil(lambda: not tw.running, timeout=TRAINING_TIMEOUT_MS)
    assert tw.outcome.text().startswith("Stopped by you after 1 epoch(s)"), tw.outcome.text()
    stopped = json.loads((out / "checkpoint" / "progress.json").read_text())
    assert (stopped["epoch"], stopped["global_step"], len(stopped["history"])) == (1, 3, 1)
    assert tw.resume_button.isEnabled() and tw.start_button.isEnabled()
    before = tw.plot.history
    first_steps, first_epoch = list(before.step_loss), list(before.epoch_loss)
    assert len(first_steps) == 3 and len(first_epoch) == 1 and len(before.metric) == 1

    type_into(qtbot, tw.form.epochs, "9")  # the form is not what resumes: the folder's settings are
    type_into(qtbot, tw.form.val_folder, "")
    qtbot.mouseClick(tw.resume_button, Qt.LeftButton)
    assert tw.running and not tw.resume_button.isEnabled() and not tw.start_button.isEnabled()
    assert tw.form.epochs.value() == 2 and tw.form.val_folder.text() == str(val)
    assert not tw.form.val_fraction.isEnabled()
    assert tw.bar.value() == 3 and tw.bar.maximum() == 6
    qtbot.waitUntil(lambda: not tw.running, timeout=TRAINING_TIMEOUT_MS)
    assert tw.outcome.text().startswith("Finished: 2 epoch(s), best iou"), tw.outcome.text()

    # the checkpoint went on from where the run stopped
    done = json.loads((out / "checkpoint" / "progress.json").read_text())
    assert (done["epoch"], done["global_step"], len(done["history"])) == (2, 6, 2)
    assert done["history"][0] == stopped["history"][0]
    # the plot kept the earlier points and carried on after them
    h = tw.plot.history
    assert h.step_loss[:3] == first_steps and len(h.step_loss) == 6
    assert all(a < b for a, b in zip(h.step_x, h.step_x[1:])) and h.step_x[-1] == pytest.approx(2.0)
    assert h.epoch_loss[0] == first_epoch[0] and h.epoch_loss == pytest.approx([e["loss"] for e in done["history"]])
    assert h.metric == pytest.approx([e["iou"] for e in done["history"]])
    assert tw.bar.value() == 6
    assert not tw.resume_button.isEnabled()  # every epoch is done: nothing left to resume
    # both parts validated on the validation folder and trained on every image of the open folder
    assert splits == [({folder}, {val}, 2)] * 2
    assert json.loads((out / "config.json").read_text())["train"]["val_folder"] == str(val)
    save_screenshot(tw, "12_training_resumed")
    x_range = tw.plot.loss_plot.getViewBox().viewRange()[0]
    assert x_range[0] <= h.step_x[0] and x_range[1] >= 2.0  # the plot shows both parts of the run


def fake_checkpoint(out: Path, num_classes: int = 2, since_best: int = 0, **changes) -> TrainConfig:
    """A stopped run's files, written without training: config.json, progress.json and the state."""
    from mia_core.engine.checkpoint import ModelInfo
    from mia_core.engine.schedule import ScheduleState

    config = TrainConfig(architecture=TINY_ARCH, backbone=TINY_BACKBONE, epochs=3, steps_per_epoch=2, batch_size=2,
                         patch_size=64, learning_rate=0.003, **changes)
    (out / "checkpoint").mkdir(parents=True)
    info = ModelInfo(TINY_ARCH, TINY_BACKBONE, num_classes, 1, ["background", "class 1"], "per-image", 64,
                     train=config.to_dict())
    (out / "config.json").write_text(info.to_json())
    progress = {"epoch": 1, "global_step": 2, "schedule": ScheduleState(0.003, since_best=since_best).to_dict(),
                "history": [{"epoch": 1, "loss": 0.5, "iou": 0.25, "learning_rate": 0.003}],
                "config": config.to_dict()}
    (out / "checkpoint" / "progress.json").write_text(json.dumps(progress))
    (out / "checkpoint" / "state.msgpack").write_bytes(b"\x00\x01 weights")
    return config


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "damage,message",
    [
        ("classes", "Cannot resume {out}: it has 3 classes and 1 channels, the images of {images} have 2 and 1"),
        ("state", "Cannot resume: {out}/checkpoint/state.msgpack is damaged"),
        ("progress", "Cannot resume: {out}/checkpoint/progress.json is damaged"),
        ("gone", "Cannot resume: no training checkpoint in {out} to resume from"),
    ],
)
def test_resume_refusals_show_the_engines_message_and_keep_the_folder(make_window, qtbot, tmp_path, damage, message):
    images = labelled_folder(tmp_path / "images")
    out = tmp_path / "model"
    config = fake_checkpoint(out, num_classes=3 if damage == "classes" else 2)
    if damage == "progress":
        (out / "checkpoint" / "progress.json").write_text("{half a file")
    w = make_window(images, training_registry())
    tw = open_training(w)
    assert not tw.resume_button.isEnabled()  # the suggested folder holds no run
    type_into(qtbot, tw.out_edit, str(out))
    assert tw.resume_button.isEnabled()
    if damage == "gone":  # the folder changed on disk after it was chosen
        for name in ("progress.json", "state.msgpack"):
            (out / "checkpoint" / name).unlink()
    kept = folder_bytes(out)
    qtbot.mouseClick(tw.resume_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not tw.running and tw.outcome.text() != "", timeout=60000)
    text = tw.outcome.text()
    assert text.startswith(message.format(out=out, images=images)), text
    assert tw.outcome.styleSheet().startswith("color: #d70015") and "Traceback" not in tw.outcome.toolTip()
    assert folder_bytes(out) == kept  # nothing in the model folder was lost or changed
    assert tw.start_button.isEnabled() and tw.form.isEnabled()
    assert tw.resume_button.isEnabled() == (damage != "gone")
    if damage in ("classes", "state"):  # the saved settings were shown, and the run got that far
        assert (tw.form.epochs.value(), tw.form.steps.value()) == (config.epochs, config.steps_per_epoch)
        assert tw.plot.history.epoch_loss == [0.5] and tw.plot.history.metric == [0.25]


def test_resume_refuses_a_run_whose_validation_folder_is_gone_before_showing_it(make_window, qtbot, tmp_path):
    images = labelled_folder(tmp_path / "images")
    out, gone = tmp_path / "model", tmp_path / "moved-away"
    fake_checkpoint(out, val_folder=str(gone))
    w = make_window(images, training_registry())
    tw = open_training(w)
    epochs_shown = tw.form.epochs.value()
    type_into(qtbot, tw.out_edit, str(out))
    kept = folder_bytes(out)
    qtbot.mouseClick(tw.resume_button, Qt.LeftButton)
    text = tw.outcome.text()
    assert text.startswith("Cannot resume: the run's saved setting 'val_folder' must be an existing folder"), text
    assert "--" not in text and "Replace the model in this folder" in text and not tw.running  # GUI words
    assert tw.form.epochs.value() == epochs_shown  # the form still shows what the user had
    assert folder_bytes(out) == kept


def test_resume_is_not_offered_for_a_run_that_stopped_early(make_window, qtbot, tmp_path):
    images = labelled_folder(tmp_path / "images")
    early, patient = tmp_path / "early", tmp_path / "patient"
    fake_checkpoint(early, early_stopping=2, since_best=2)  # epochs left, but no better metric for 2
    fake_checkpoint(patient, early_stopping=2, since_best=1)
    w = make_window(images, training_registry())
    tw = open_training(w)
    type_into(qtbot, tw.out_edit, str(early))
    assert not tw.resume_button.isEnabled()
    type_into(qtbot, tw.out_edit, str(patient))
    assert tw.resume_button.isEnabled()


def test_a_resumed_plot_shows_the_saved_epochs_and_drops_the_unfinished_one():
    from mia_core.viewer.training_plot import TrainingHistory

    h = TrainingHistory(step_x=[0.5, 1.0, 1.5], step_loss=[3.0, 2.0, 1.0], epoch_x=[1.0], epoch_loss=[9.0])
    records = [{"epoch": 1, "loss": 2.5, "dice": 0.5}]
    h.continue_from(records, "dice", keep_steps=True)
    assert (h.step_x, h.step_loss) == ([0.5, 1.0], [3.0, 2.0])  # the stopped epoch 2 runs again
    assert (h.epoch_x, h.epoch_loss, h.metric_x, h.metric) == ([1.0], [2.5], [1.0], [0.5])
    h.continue_from(records + [{"epoch": 2, "loss": None, "dice": float("nan")}], "dice", keep_steps=False)
    assert h.step_x == [] and h.epoch_loss == [2.5] and h.metric == [0.5]


def test_a_validation_folder_replaces_the_validation_share(make_window, qtbot, tmp_path, monkeypatch):
    from mia_core.engine.dataset import prepare_training_data
    import mia_core.viewer.training_settings as training_settings

    images = labelled_folder(tmp_path / "images")
    val = labelled_folder(tmp_path / "val", 1)
    w = make_window(images, training_registry())
    tw = open_training(w)
    form = tw.form
    fill_tiny_run(qtbot, tw, tmp_path / "model", epochs=1, steps=1)
    assert form.val_fraction.isEnabled() and form.config().val_folder is None
    shared = prepare_training_data(images, form.config())
    assert len(shared.train) == 1 and {s.path.parent for s in shared.val} == {images}

    monkeypatch.setattr(training_settings.QFileDialog, "getExistingDirectory", lambda *a, **k: str(val))
    qtbot.mouseClick(form.val_browse, Qt.LeftButton)
    assert form.val_folder.text() == str(val) and not form.val_fraction.isEnabled()
    config = form.config()
    assert config.val_folder == str(val) and config.val_fraction == 0.5  # kept, and unused by the engine
    split = prepare_training_data(images, config)
    assert len(split.train) == 2 and {s.path.parent for s in split.val} == {val}

    missing = tmp_path / "no such folder"
    type_into(qtbot, form.val_folder, str(missing))
    qtbot.mouseClick(tw.start_button, Qt.LeftButton)
    assert tw.run is None and not tw.running  # refused at once, before the engine is asked
    assert tw.outcome.text() == f"Cannot train: setting 'val_folder' must be an existing folder, got '{missing}'"
    type_into(qtbot, form.val_folder, "")
    assert form.val_fraction.isEnabled() and form.config().val_folder is None


def test_the_app_and_the_training_window_open_without_jax(tmp_path):
    code = (
        "import sys\n"
        "from PyQt5.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from mia_core.plugins import load_plugins\n"
        "from mia_core.viewer.window import MainWindow\n"
        "w = MainWindow(load_plugins())\n"
        "w.open_folder(__import__('pathlib').Path(sys.argv[1]))\n"
        "w.models.open_training()\n"
        "print('form', w.models.training.form.combos['backbone'].count())\n"
        "print('jax', 'jax' in sys.modules, 'flax' in sys.modules)\n"
    )
    folder = labelled_folder(tmp_path / "images", 1)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MIA_CONFIG_DIR=str(tmp_path / "cfg"))
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "jax False False" in done.stdout and "form 0" not in done.stdout


# --- screenshots -------------------------------------------------------------------------------------
def grab_array(widget) -> np.ndarray:
    """A widget's pixels as an (H, W, 3) uint8 RGB array."""
    image = widget.grab().toImage().convertToFormat(QImage.Format_RGB888)
    h, w, bpl = image.height(), image.width(), image.bytesPerLine()
    buf = np.frombuffer(image.constBits().asstring(h * bpl), np.uint8).reshape(h, bpl)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def near(arr: np.ndarray, colour: str, tol: int = 40) -> np.ndarray:
    c = QColor(colour)
    return np.abs(arr.astype(int) - np.array([c.red(), c.green(), c.blue()])).max(axis=-1) <= tol


# --- before and after a run: the data summary, the estimate, the held-out score ------------------------
def test_the_data_summary_and_the_estimate_are_shown_before_start(make_window, qtbot, tmp_path):
    from mia_core.engine.estimate import estimate
    from mia_core.labels import all_background

    folder = labelled_folder(tmp_path / "images", 3, shape=(128, 128))  # the default patch fits
    import cv2

    cv2.imwrite(str(folder / "empty.png"), np.zeros((128, 128), np.uint8))
    from mia_core.label_store import save_labels

    save_labels(label_path(folder / "empty.png"), all_background((128, 128)))
    w = make_window(folder, training_registry())
    tw = open_training(w)
    # Opening the window reads the images in a worker and says what will train, before any Start.
    qtbot.waitUntil(lambda: "Training on" in tw.summary.text(), timeout=60000)
    text = tw.summary.text()
    assert "3 with foreground" not in text  # one of the four is held out
    assert "1 all background (negative examples)" in text
    assert "Validation: on 1 image(s) held out of 4, never trained on" in text
    assert not tw.running and tw.plot.points == 0
    # The default run is bounded by its 5-minute budget, as mia train says.
    assert tw.estimate.text().startswith("Estimated time: 5m00s (the time budget; about ")
    assert estimate(tw.form.config()).text.startswith("estimated time: 5m00s (the time budget")
    # Editing the settings updates the estimate; Check data reads the images again with them.
    type_into(qtbot, tw.form.time_budget, "0")
    assert tw.form.config().time_budget == 0
    assert tw.estimate.text().startswith("Estimated time: about ")
    assert f"({TrainConfig().epochs} epoch(s) of {TrainConfig().steps_per_epoch} steps" in tw.estimate.text()
    type_into(qtbot, tw.form.epochs, "3")
    assert "(3 epoch(s) of" in tw.estimate.text()
    type_into(qtbot, tw.form.val_fraction, "0")
    qtbot.mouseClick(tw.check_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "Warning:" in tw.summary.text(), timeout=60000)
    assert "validation falls back to the training data" in tw.summary.text()


def test_a_finished_model_gets_its_held_out_score_against_a_truth_folder(make_window, qtbot, tmp_path, capsys,
                                                                        monkeypatch):
    import tifffile

    from mia_core import cli

    folder = labelled_folder(tmp_path / "images", 2)
    truth = tmp_path / "truth"
    truth.mkdir()
    import cv2
    from skimage import measure

    for p in sorted(folder.glob("*.png")):
        image = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        tifffile.imwrite(truth / f"{p.stem}.tif", measure.label(image > 100).astype(np.uint16))
    w = make_window(folder, training_registry())
    tw = open_training(w)
    out = tmp_path / "model"
    fill_tiny_run(qtbot, tw, out, epochs=1, steps=2)
    type_into(qtbot, tw.truth_edit, str(truth))
    qtbot.mouseClick(tw.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not tw.running, timeout=TRAINING_TIMEOUT_MS)
    qtbot.waitUntil(lambda: tw.score.text().startswith("Held-out score: on 1 frame(s)"), timeout=120000)
    # The held-out image is the validation image; the CLI scores it the same way.
    from mia_core.engine.dataset import prepare_training_data

    held = prepare_training_data(folder, tw.run.config).val[0].path
    alone = tmp_path / "held"
    alone.mkdir()
    (alone / held.name).write_bytes(held.read_bytes())
    capsys.readouterr()
    import mia_core.plugins

    monkeypatch.setattr(mia_core.plugins, "load_plugins", lambda disabled=None: training_registry())
    assert cli.main(["evaluate", str(out), str(alone), "--truth", str(truth)]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert tw.score.text() == "Held-out score: " + summary.replace("evaluated", "on", 1)
