"""Loading runs in a worker with a progress bar and a cancel button; the GUI stays usable."""

from __future__ import annotations

import sys
import threading

import numpy as np
import tifffile
from PyQt5 import sip
from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest

import mia_core.images as images
from mia_core.viewer.progress import ProgressPanel
from mia_core.viewer.workers import Task, TaskRunner, auto_levels, load_image_job

from viewer_helpers import wait_loaded


def test_slow_load_shows_progress_and_cancel_keeps_the_open_image(make_window, image_folder, qtbot, monkeypatch):
    w = make_window(image_folder)
    real_read = images.read_image
    gate = threading.Event()
    worker_threads = []

    def slow_read(path, *args, **kwargs):
        worker_threads.append(threading.current_thread())
        if "b_blobs" in str(path):
            gate.wait(10)
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(images, "read_image", slow_read)
    QTest.keyClick(w, Qt.Key_PageDown)  # b_blobs.png: its read blocks
    panel = w.status.progress
    qtbot.waitUntil(panel.isVisible, timeout=3000)
    assert panel.text.text() == "Loading b_blobs.png"
    assert worker_threads and worker_threads[0] is not threading.main_thread()
    # the GUI thread is free while the worker reads: keys still work
    QTest.keyClick(w, Qt.Key_F2)
    assert w.tools.current.name == "draw"
    qtbot.mouseClick(panel.cancel_button, Qt.LeftButton)
    assert not panel.isVisible()
    assert w.status.message.text() == "Loading cancelled"
    assert w.image.path.name == "a_blobs.png" and w.document is not None
    assert w.image_list.current_path().name == "a_blobs.png"
    gate.set()
    w.loader.wait(5000)
    qtbot.wait(20)
    assert w.image.path.name == "a_blobs.png"  # the late result is dropped
    QTest.keyClick(w, Qt.Key_PageDown)
    wait_loaded(qtbot, w, "b_blobs.png")


def test_a_newer_selection_wins_over_a_slower_older_load(make_window, image_folder, qtbot, monkeypatch):
    w = make_window(image_folder)
    real_read = images.read_image
    gate = threading.Event()

    def slow_read(path, *args, **kwargs):
        if "b_blobs" in str(path):
            gate.wait(10)
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(images, "read_image", slow_read)
    w.image_list.select(image_folder / "b_blobs.png")
    w.image_list.select(image_folder / "c_stack.tif")
    wait_loaded(qtbot, w, "c_stack.tif")
    gate.set()
    w.loader.wait(5000)
    qtbot.wait(20)
    assert w.image.path.name == "c_stack.tif"


def test_load_job_reports_progress_per_frame_and_levels(qtbot, tmp_path):
    data = np.arange(4 * 20 * 30, dtype=np.uint16).reshape(4, 20, 30) * 7
    tifffile.imwrite(tmp_path / "s.tif", data, photometric="minisblack")
    runner = TaskRunner(1)
    task = Task(load_image_job(tmp_path / "s.tif"), "load")
    steps = []
    task.signals.progress.connect(lambda d, t: steps.append((d, t)))
    with qtbot.waitSignal(task.signals.finished, timeout=5000) as blocker:
        runner.start(task)
    loaded = blocker.args[0]
    np.testing.assert_array_equal(loaded.data, data)
    assert loaded.levels == (float(data.min()), float(data.max()))
    assert (4, 4) in steps and (1, 4) in steps


def test_cancel_raises_inside_the_job_at_its_next_report(qtbot):
    started, release = threading.Event(), threading.Event()
    calls = []

    def job(report):
        started.set()
        release.wait(5)
        calls.append("before")
        report(1, 2)
        calls.append("after")  # never reached once cancelled

    runner = TaskRunner(1)
    task = Task(job, "job")
    with qtbot.waitSignal(task.signals.cancelled, timeout=5000):
        runner.start(task)
        started.wait(5)
        task.cancel()
        release.set()
    assert calls == ["before"]


def test_failures_come_back_as_a_signal_with_the_message(qtbot, tmp_path):
    (tmp_path / "x.png").write_bytes(b"nope")
    runner = TaskRunner(1)
    task = Task(load_image_job(tmp_path / "x.png"), "load")
    with qtbot.waitSignal(task.signals.failed, timeout=5000) as blocker:
        runner.start(task)
    message, trace = blocker.args
    assert message.startswith("not a valid png image")  # the window adds the file name
    assert "ImageReadError: cannot read image" in trace and "x.png" in trace


def test_auto_levels_of_8_16_bit_and_float():
    assert auto_levels(np.zeros((1, 4, 4), np.uint8)) == (0.0, 255.0)
    sixteen = np.array([[[0, 65535], [100, 200]]], np.uint16)
    assert auto_levels(sixteen) == (0.0, 65535.0)
    floats = np.array([[[np.nan, 0.5], [np.inf, -1.0]]])
    assert auto_levels(floats) == (-1.0, 0.5)


def test_a_task_that_outlives_its_progress_panel_ends_quietly(qtbot):
    """The panel's C++ side is gone (window closed) when the task's last signals arrive: no error."""
    panel = ProgressPanel()
    task = Task(lambda report: 1, "slow job")
    panel.track(task, delay_ms=0)
    sip.delete(panel)
    errors: list[BaseException] = []
    hook, sys.excepthook = sys.excepthook, lambda t, e, tb: errors.append(e)
    try:
        task.signals.progress.emit(1, 2)
        task.signals.finished.emit(1)
    finally:
        sys.excepthook = hook
    assert errors == []
