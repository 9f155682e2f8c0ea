"""Helpers of the app tests: generated images, the built-in tools, waiting for loads, and a mouse
that clicks on image pixels of the canvas (a module of its own so tests can import it by a name
no other test folder uses)."""

from __future__ import annotations

import importlib.metadata

import numpy as np
from PyQt5.QtCore import QPoint, QPointF, Qt
from PyQt5.QtGui import QMouseEvent, QWheelEvent
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QApplication

IMAGE_SHAPE = (120, 160)  # rows, columns of the generated single images
STACK_SHAPE = (3, 96, 128)


def blob_image(shape: tuple[int, int], seed: int, dtype: type = np.uint8) -> np.ndarray:
    """A dark image with bright round blobs and noise, like stained nuclei."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    img = np.full(shape, 20.0)
    for _ in range(4):
        cy, cx = rng.uniform(15, shape[0] - 15), rng.uniform(15, shape[1] - 15)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < rng.uniform(6, 12) ** 2] = 200.0
    img += rng.normal(0, 8, shape)
    top = 255 if dtype == np.uint8 else 60000
    return np.clip(img * (top / 255.0), 0, top).astype(dtype)


def builtin_entry_points() -> list[importlib.metadata.EntryPoint]:
    """mia's own tool plugins only: the viewer tests do not depend on other plugins or packages."""
    eps = importlib.metadata.entry_points(group="mia")
    return [ep for ep in eps if ep.dist is not None and ep.dist.name == "mia"
            and ep.value.startswith("mia_plugins.tools.")]


def wait_loaded(qtbot, window, name: str | None = None) -> None:
    """Wait until the image (``name``, or any) is on the canvas and the scan is done."""
    def ready() -> bool:
        img = window.image
        return (
            not window.loader.busy
            and img is not None
            and (name is None or img.path.name == name)
            and window.document is not None
        )

    qtbot.waitUntil(ready, timeout=10000)
    if window.scanner.task is not None:
        qtbot.waitUntil(window.scanner.task.done.is_set, timeout=10000)
        QApplication.processEvents()


class Mouse:
    """Real Qt mouse events on the canvas viewport, addressed in image pixels (x = column, y = row).

    Press and release go through ``qtbot``; moves are sent as QMouseEvents because QTest's
    mouseMove only moves the cursor, which the offscreen platform does not turn into events.
    """

    def __init__(self, qtbot, window) -> None:
        self.qtbot = qtbot
        self.window = window
        self.held = Qt.NoButton

    @property
    def viewport(self):
        return self.window.canvas.viewport()

    def at(self, x: float, y: float) -> QPoint:
        return self.window.canvas.image_to_widget(x, y)

    def press(self, x: float, y: float, button=Qt.LeftButton) -> None:
        self.held = button
        self.qtbot.mousePress(self.viewport, button, pos=self.at(x, y))

    def move(self, x: float, y: float) -> None:
        pos = self.at(x, y)
        event = QMouseEvent(QMouseEvent.MouseMove, QPointF(pos), QPointF(self.viewport.mapToGlobal(pos)),
                            Qt.NoButton, self.held, Qt.NoModifier)
        QApplication.sendEvent(self.viewport, event)

    def release(self, x: float, y: float, button=Qt.LeftButton) -> None:
        self.held = Qt.NoButton
        self.qtbot.mouseRelease(self.viewport, button, pos=self.at(x, y))

    def click(self, x: float, y: float, button=Qt.LeftButton) -> None:
        self.press(x, y, button)
        self.release(x, y, button)

    def stroke(self, points, button=Qt.LeftButton) -> None:
        """Press at the first point, move through the others, release at the last."""
        pts = [tuple(p) for p in points]
        self.press(*pts[0], button)
        for p in pts[1:]:
            self.move(*p)
        self.release(*pts[-1], button)

    def drag_widget(self, points: list[QPoint], button=Qt.LeftButton, pause_ms: int = 30) -> None:
        """A drag through fixed viewport positions (for panning, where image positions move).

        The pause spaces the moves out: pyqtgraph drops moves that come faster than its mouse
        rate limit (a hand never moves that fast).
        """
        self.held = button
        self.qtbot.mousePress(self.viewport, button, pos=points[0])
        for pos in points[1:]:
            QTest.qWait(pause_ms)
            event = QMouseEvent(QMouseEvent.MouseMove, QPointF(pos), QPointF(self.viewport.mapToGlobal(pos)),
                                Qt.NoButton, button, Qt.NoModifier)
            QApplication.sendEvent(self.viewport, event)
        self.held = Qt.NoButton
        self.qtbot.mouseRelease(self.viewport, button, pos=points[-1])

    def wheel(self, x: float, y: float, notches: int) -> None:
        pos = QPointF(self.at(x, y))
        event = QWheelEvent(pos, QPointF(self.viewport.mapToGlobal(pos.toPoint())), QPoint(),
                            QPoint(0, 120 * notches), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
        QApplication.sendEvent(self.viewport, event)


def answer_next_question(qtbot, button_text: str, seen: list[str] | None = None) -> None:
    """Once a modal QMessageBox is up, click its button ``button_text`` (``&`` shortcuts ignored) with the mouse.

    ``seen`` collects "objectName: text" of the box, so a test can check what was asked. A box
    without that button is closed and fails the test with the buttons it has, rather than hanging.
    """
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QMessageBox, QPushButton

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        if seen is not None:
            seen.append(box.objectName() + ": " + box.text())
        buttons = box.findChildren(QPushButton)
        button = next((b for b in buttons if b.text().replace("&", "") == button_text), None)
        if button is None:
            box.done(0)  # closed unanswered, so the test goes on to fail here instead of hanging
            raise AssertionError(f"no button {button_text!r} in {box.objectName()}: {[b.text() for b in buttons]}")
        qtbot.mouseClick(button, Qt.LeftButton)

    QTimer.singleShot(0, click)


def square(x0: int, y0: int, x1: int, y1: int, step: int = 4) -> list[tuple[int, int]]:
    """Points around a rectangle every ``step`` pixels, as a hand would trace it, for ``Mouse.stroke``."""
    top = [(x, y0) for x in range(x0, x1, step)]
    right = [(x1, y) for y in range(y0, y1, step)]
    bottom = [(x, y1) for x in range(x1, x0, -step)]
    left = [(x0, y) for y in range(y1, y0, -step)]
    return top + right + bottom + left + [(x0, y0)]
