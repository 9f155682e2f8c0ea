"""Stress script: many short tasks on fresh TaskRunners that are dropped and collected as they end.

Run as ``python pool_stress.py ROUNDS`` in a subprocess (tests/viewer/test_worker_teardown.py):
a hang or an abort then fails that test instead of killing the test process.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import QCoreApplication, QEventLoop, QTimer  # noqa: E402

from mia_core.viewer.workers import Task, TaskRunner, live_tasks  # noqa: E402


def _fail(_report):
    raise ValueError("boom")


def _succeed(_report):
    return 1


def _burn(stop: threading.Event) -> None:
    """Hold the GIL often, as a busy app does, so the worker and main thread interleave."""
    while not stop.is_set():
        sum(range(1000))


def main(rounds: int) -> int:
    sys.setswitchinterval(1e-5)  # hand the GIL over often: widens the teardown race
    app = QCoreApplication.instance() or QCoreApplication([])
    stop = threading.Event()
    burner = threading.Thread(target=_burn, args=(stop,), daemon=True)
    burner.start()
    ends = 0
    for i in range(rounds):
        runner = TaskRunner(1)
        task = Task(_fail if i % 2 else _succeed, "stress")
        loop = QEventLoop()
        task.signals.failed.connect(loop.quit)
        task.signals.finished.connect(loop.quit)
        QTimer.singleShot(10_000, loop.quit)
        runner.start(task)
        loop.exec_()
        ends += task.done.wait(10)
        del runner, task, loop
        gc.collect()  # the runner goes while its task may still be returning
        app.processEvents()
    stop.set()
    deadline = time.monotonic() + 30  # the last signals retire the tasks: none is kept alive for ever
    while live_tasks() and time.monotonic() < deadline:
        app.processEvents(QEventLoop.AllEvents, 10)
        time.sleep(0.005)  # a loaded machine may not have run the last worker's hand-over yet
    print(f"{ends} of {rounds} tasks ended, {live_tasks()} still held", flush=True)
    return 0 if ends == rounds and not live_tasks() else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
