"""Settings persist (user file in the config folder, classes beside the labels); the app command."""

from __future__ import annotations

import json

from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest

from mia_core import cli
from mia_core.images import read_image
from mia_core.viewer import app as viewer_app
from mia_core.viewer.settings import UserSettings, classes_path

from viewer_helpers import wait_loaded


def test_classes_are_saved_in_the_folder_and_come_back(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    panel = w.class_panel
    panel.add_class("nucleus")
    panel.list.item(1).setText("cytoplasm")  # what finishing an in-place rename does
    panel.set_colour(2, "#123456")
    data = json.loads(classes_path(image_folder).read_text())
    assert [(c["id"], c["name"], c["colour"]) for c in data["classes"]] == [
        (0, "background", "#d0d0d0"), (1, "cytoplasm", "#e69f00"), (2, "nucleus", "#123456")]
    assert w.canvas.contours.colour(2).name() == "#123456"
    assert not list(classes_path(image_folder).parent.glob("*.tmp"))  # atomic write left nothing
    panel.list.item(2).setText("  ")  # empty names are refused
    assert panel.classes[2].name == "nucleus"
    assert panel.remove_last_class() and not panel.remove_last_class()  # background + 1 stay
    assert len(json.loads(classes_path(image_folder).read_text())["classes"]) == 2
    panel.add_class("nucleus", "#123456")
    w.close()
    again = make_window(image_folder)
    assert [c.name for c in again.class_panel.classes] == ["background", "cytoplasm", "nucleus"]


def test_user_settings_remember_folder_image_layout_and_tool_sizes(
        make_window, mouse_for, image_folder, registry, isolated_settings, qtbot):
    w = make_window(image_folder)
    w.image_list.select(image_folder / "b_blobs.png")
    wait_loaded(qtbot, w, "b_blobs.png")
    QTest.keyClick(w, Qt.Key_F5)
    mouse_for(w).wheel(50, 50, 4)
    size = w.tools.current.size
    w.options.inner.click()
    w.close()
    saved = json.loads((isolated_settings / "settings.json").read_text())
    assert saved["last_folder"] == str(image_folder.resolve())
    assert saved["last_images"][str(image_folder.resolve())] == "b_blobs.png"
    assert saved["tool_sizes"]["expand"] == size
    assert saved["inner_contours"] is False
    assert saved["geometry"] and saved["window_state"]
    # a new start with no folder opens the last folder at the last image, with the tool sizes
    from mia_core.plugins import load_plugins

    again = viewer_app.create_window(load_plugins(disabled=()))
    qtbot.addWidget(again)
    wait_loaded(qtbot, again, "b_blobs.png")
    assert again.folder == image_folder.resolve()
    assert again.tools.tools["expand"].size == size
    assert not again.options.inner.isChecked()


def test_first_start_opens_a_sample_folder(qtbot, registry, tmp_path):
    w = viewer_app.create_window(registry)
    qtbot.addWidget(w)
    wait_loaded(qtbot, w)
    sample = tmp_path / "data" / "sample"
    assert w.folder == sample.resolve()
    names = sorted(p.name for p in sample.iterdir() if p.is_file())
    assert names == ["blobs_stack.tif", "cell.png", "coins.png"]
    stack = read_image(sample / "blobs_stack.tif")
    assert stack.shape[0] == 3 and stack.dtype.name == "uint16" and stack.ndim == 3
    assert read_image(sample / "coins.png").shape[0] == 1


def test_settings_with_wrong_types_keep_the_good_values(isolated_settings):
    isolated_settings.mkdir(parents=True)
    path = isolated_settings / "settings.json"
    path.write_text(json.dumps({"last_folder": "/data/x", "tool_sizes": {"expand": "big"},
                                "default_classes": [{"name": "bg", "colour": "#000000"}]}))
    settings, warning = UserSettings.load()
    assert settings.last_folder == "/data/x" and settings.tool_sizes == {}
    assert [c.name for c in settings.default_classes] == ["bg"]
    assert "tool_sizes" in warning and str(path) in warning


def test_mia_folder_starts_the_app_with_the_disabled_plugins(monkeypatch, image_folder):
    seen = {}

    def fake_run_app(folder, registry):
        seen["folder"], seen["tools"] = folder, registry.names("tools")
        return 0

    monkeypatch.setattr(viewer_app, "run_app", fake_run_app)
    assert cli.main([str(image_folder)]) == 0
    assert seen["folder"] == image_folder and "draw" in seen["tools"]
    assert cli.main(["--disable", "draw", str(image_folder)]) == 0
    assert "draw" not in seen["tools"]
    assert cli.main([]) == 0 and seen["folder"] is None


def test_app_command_rejects_a_missing_folder(capsys, tmp_path):
    assert cli.main(["app", str(tmp_path / "missing")]) == 2
    assert "missing does not exist" in capsys.readouterr().err


def test_app_command_explains_a_missing_display(monkeypatch, capsys):
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setattr("sys.argv", [".venv/bin/mia"])
    assert cli.main(["app"]) == 1
    err = capsys.readouterr().err
    assert "no display" in err and "`xvfb-run -a .venv/bin/mia`" in err  # the hint works as typed
