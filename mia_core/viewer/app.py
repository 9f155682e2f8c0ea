"""Starts the labelling app: the Qt application, the settings, the folder to open."""

from __future__ import annotations

import gc
import os
import signal
import sys
from pathlib import Path
from typing import Any

from mia_core.viewer.settings import UserSettings


def has_display() -> bool:
    """False on a Linux machine with no display and no Qt platform chosen (Qt would abort)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def start_folder(folder: Path | None, settings: UserSettings) -> Path:
    """The folder asked for, else the last one that still exists, else the sample folder."""
    if folder is not None:
        return folder
    if settings.last_folder and Path(settings.last_folder).is_dir():
        return Path(settings.last_folder)
    from mia_core.viewer.sample_data import sample_folder

    return sample_folder()


def create_window(registry: Any, folder: Path | None = None, settings_path: Path | None = None) -> Any:
    """Build the main window on ``folder`` (the QApplication must exist)."""
    from mia_core.viewer.window import MainWindow

    settings, warning = UserSettings.load(settings_path)
    window = MainWindow(registry, settings, warning)
    window.open_folder(start_folder(folder, settings))
    return window


def run_app(folder: Path | None, registry: Any) -> int:
    """Run the app until its window closes; returns the exit code."""
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("mia")
    app.setOrganizationName("mia")
    # Python's cyclic garbage collector runs on whichever thread allocates; a collection on the
    # training or loading thread that frees plot items would crash Qt. Collect on the GUI thread only.
    from pyqtgraph.util.garbage_collector import GarbageCollector

    collector = GarbageCollector(interval=1.0)
    window = create_window(registry, folder)
    window.show()
    # Ctrl+C in the terminal closes the window (and so saves the settings) instead of being ignored
    signal.signal(signal.SIGINT, lambda *_: window.close())
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: None)  # lets Python run its signal handlers
    heartbeat.start(250)
    code = int(app.exec_())
    collector.timer.stop()
    gc.enable()
    return code
