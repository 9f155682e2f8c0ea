"""Tools come from plugins: a third-party tool shows in the tool bar and edits labels; plugins that
fail to load are listed with their tracebacks."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest

from mia_core.label_store import label_path, load_labels
from mia_core.plugins import load_plugins

from viewer_helpers import builtin_entry_points

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mia-example-plugin"


@pytest.fixture
def example_registry(monkeypatch: pytest.MonkeyPatch):
    """The built-ins plus the example third-party plugin from examples/ (found by its entry point)."""
    if not (EXAMPLE / "mia_example_plugin" / "__init__.py").is_file():
        pytest.skip("examples/mia-example-plugin is not in this checkout")
    monkeypatch.syspath_prepend(str(EXAMPLE))
    ep = importlib.metadata.EntryPoint(name="example", value="mia_example_plugin", group="mia")
    return load_plugins(disabled=(), entry_points=builtin_entry_points() + [ep])


def test_third_party_tool_appears_in_the_toolbar_and_edits(make_window, mouse_for, image_folder,
                                                           example_registry, qtbot):
    assert "stamp" in example_registry.names("tools")
    w = make_window(image_folder, example_registry)
    action = w.toolbar.actions_by_tool["stamp"]
    assert action.text() == "Stamp" and "example plugin" in action.toolTip()
    button = w.toolbar.widgetForAction(action)
    qtbot.mouseClick(button, Qt.LeftButton)
    stamp = w.tools.current
    assert stamp.name == "stamp" and action.isChecked()
    assert w.options.modes.checked_mode() == "add"
    mouse = mouse_for(w)
    mouse.move(50, 40)
    assert w.canvas.preview.line.isVisible()  # the square it will stamp
    mouse.click(50, 40)
    (square,) = load_labels(label_path(image_folder / "a_blobs.png")).contours
    assert square.pixel_count == stamp.size * stamp.size
    assert square.bbox == (46, 36, 55, 45)
    mouse.click(5, 5, Qt.RightButton)  # the tool's own mode switch
    assert w.options.modes.checked_mode() == "remove"
    mouse.click(50, 40)
    assert not label_path(image_folder / "a_blobs.png").exists()
    QTest.keyClick(w, Qt.Key_Space)  # Space returns to drag, and back to the third-party tool
    QTest.keyClick(w, Qt.Key_Space)
    assert w.tools.current is stamp


def test_failed_plugins_are_listed_with_tracebacks(make_window, image_folder, tmp_path, monkeypatch, qtbot):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "broken_viewer_plugin.py").write_text(
        "raise RuntimeError('the broken plugin cannot start')\n"
    )
    bad = importlib.metadata.EntryPoint(name="broken", value="broken_viewer_plugin", group="mia")
    registry = load_plugins(disabled=(), entry_points=builtin_entry_points() + [bad])
    w = make_window(image_folder, registry)
    QTest.qWait(20)
    dialog = w.plugin_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.list.count() == 1
    assert dialog.list.item(0).text().startswith("broken")
    text = dialog.details.toPlainText()
    assert "Traceback" in text and "the broken plugin cannot start" in text
    warning = w.status.plugin_warning
    assert warning.isVisible() and warning.text() == "1 plugin(s) failed" and "broken" in warning.toolTip()
    assert w.actions_.plugin_errors.isEnabled()
    dialog.close()
    qtbot.mouseClick(warning, Qt.LeftButton)  # opens the list again
    assert w.plugin_dialog.isVisible()
    # every other plugin still works
    assert list(w.toolbar.actions_by_tool) == ["drag", "draw", "poly", "assign", "expand", "delete", "dextr"]
