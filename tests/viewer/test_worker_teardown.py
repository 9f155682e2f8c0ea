"""Tasks outlive the objects that started them: no hang, no abort, nothing delivered to the dead."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest

import mia_core.images as images
from mia_core.viewer.workers import Task, TaskRunner

HERE = Path(__file__).parent


def _run_script(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    try:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=HERE)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"hung after {timeout} s: {exc.stdout!r} {exc.stderr!r}") from None


def test_runners_dropped_and_collected_as_their_tasks_end_neither_hang_nor_abort():
    # before the shared pool: 6 of 6 runs of this loop hung in ~QThreadPool or aborted on
    # "TypeError: <lambda>() missing 1 required keyword-only argument: 't'"
    for attempt in range(3):
        done = _run_script([str(HERE / "pool_stress.py"), "300"], timeout=120)
        assert done.returncode == 0, f"attempt {attempt}: rc {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"
        assert "300 of 300 tasks ended, 0 still held" in done.stdout


def test_the_process_exits_while_tasks_still_run():
    script = textwrap.dedent("""
        import time
        from PyQt5.QtCore import QCoreApplication
        from mia_core.viewer.workers import Task, TaskRunner

        app = QCoreApplication([])
        runner = TaskRunner(2)

        def reporting(report):
            for i in range(10_000):
                time.sleep(0.01)
                report(i, 10_000)  # ends here once cancelled at exit

        def stuck(_report):
            time.sleep(60)  # never reports: the exit does not wait for it either

        runner.start(Task(reporting, "reporting"))
        runner.start(Task(stuck, "stuck"))
        time.sleep(0.2)
        print("leaving", flush=True)
    """)
    done = _run_script(["-c", script], timeout=40)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "leaving"


def test_a_runner_runs_at_most_its_thread_count_and_wait_covers_the_queue(qtbot):
    gate = threading.Event()
    order: list[str] = []

    def first(_report):
        order.append("first starts")
        gate.wait(10)
        order.append("first ends")

    def second(_report):
        order.append("second starts")

    runner = TaskRunner(1)
    a, b = Task(first, "a"), Task(second, "b")
    runner.start(a)
    runner.start(b)
    qtbot.waitUntil(lambda: order == ["first starts"], timeout=3000)
    qtbot.wait(50)
    assert order == ["first starts"]  # b queues while a holds the runner's one thread
    gate.set()
    assert runner.wait(5000)
    assert order == ["first starts", "first ends", "second starts"]
    assert b.done.is_set()


def test_abandoned_tasks_end_but_reach_no_slot(qtbot):
    started, release = threading.Event(), threading.Event()
    seen: list[str] = []

    def job(report):
        started.set()
        release.wait(10)
        return "late"

    runner = TaskRunner(1)
    task = Task(job, "job")
    task.signals.finished.connect(lambda r: seen.append(r))
    task.signals.cancelled.connect(lambda: seen.append("cancelled"))
    queued = Task(job, "queued")
    queued.signals.finished.connect(lambda r: seen.append("queued ran"))
    runner.start(task)
    runner.start(queued)
    assert started.wait(5)
    runner.abandon()
    release.set()
    assert task.done.wait(5)
    qtbot.wait(100)
    assert seen == []
    assert task.is_cancelled and not queued.done.is_set()


def test_closing_the_window_during_a_blocked_read_neither_waits_nor_receives_it(make_window, image_folder,
                                                                                 qtbot, monkeypatch):
    w = make_window(image_folder)
    real_read = images.read_image
    gate = threading.Event()

    def slow_read(path, *args, **kwargs):
        if "b_blobs" in str(path):
            gate.wait(10)
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(images, "read_image", slow_read)
    QTest.keyClick(w, Qt.Key_PageDown)
    qtbot.waitUntil(lambda: w.loader.busy, timeout=3000)
    task = w.loader.task
    w.close()
    assert not task.done.is_set()  # the close did not wait for the blocked read
    gate.set()
    assert task.done.wait(10)
    qtbot.wait(100)
    assert w.image.path.name == "a_blobs.png"  # the late image never reached the closed window
