"""The training loop with a tiny network: progress, checkpoints, stop flag, resume, NaN, early stop."""

import json
import threading

import numpy as np
import pytest
from flax import nnx

from engine_helpers import reference_iou, tiny_net, weighted_cross_entropy, write_blob_folder
from mia_core.engine import checkpoint as ckpt
from mia_core.engine.config import TrainConfig
from mia_core.engine.dataset import prepare_training_data
from mia_core.engine.train import Components, TrainingError, train

CFG = TrainConfig(backbone="tiny", patch_size=32, batch_size=2, steps_per_epoch=4, epochs=3,
                  early_stopping=0, max_val_patches=8)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("blobs")
    write_blob_folder(folder, 3, size=(64, 64))
    return prepare_training_data(folder, CFG)


def _parts(data, metric=reference_iou, seed=0):
    return Components(tiny_net(data.in_channels, data.num_classes, seed), weighted_cross_entropy, metric, "iou")


def _weights(model):
    return {k: np.asarray(v) for k, v in nnx.to_flat_state(nnx.state(model))}


def test_progress_checkpoints_and_saved_model(data, tmp_path):
    reports = []
    result = train(data, CFG, tmp_path / "m", _parts(data), progress=reports.append)
    assert result.reason == "completed" and result.epochs_done == 3 and result.global_step == 12
    steps = [r for r in reports if r.phase == "train"]
    assert [(r.epoch, r.step) for r in steps] == [(e, s) for e in (1, 2, 3) for s in (1, 2, 3, 4)]
    assert steps[0].eta_s is None and all(r.eta_s is not None and r.eta_s >= 0 for r in steps[1:])
    assert all(r.loss is not None and np.isfinite(r.loss) for r in steps)
    epochs = [r for r in reports if r.phase == "epoch"]
    assert [r.metric for r in epochs] == [h["iou"] for h in result.history]
    assert reports[-1].phase == "done"
    progress = json.loads((tmp_path / "m" / "checkpoint" / "progress.json").read_text())
    assert progress["epoch"] == 3 and progress["global_step"] == 12
    info = ckpt.read_model_info(tmp_path / "m")
    assert info.epoch + 1 == result.best_epoch
    assert info.metric_value == max(h["iou"] for h in result.history)
    assert info.train["patch_size"] == 32 and info.class_names == ["background", "class 1"]
    # The model folder holds the best epoch's weights; the result's model is that model.
    loaded, _ = ckpt.load_model(tmp_path / "m", builder=lambda i: tiny_net(i.in_channels, i.num_classes, 5))
    for key, value in _weights(loaded).items():
        np.testing.assert_array_equal(value, _weights(result.model)[key])


def test_stop_flag_checkpoints_and_resume_finishes(data, tmp_path):
    stop = threading.Event()

    def on_progress(p):
        if p.phase == "train" and p.epoch == 2 and p.step == 3:
            stop.set()

    first = train(data, CFG, tmp_path / "m", _parts(data), progress=on_progress, stop=stop)
    assert first.reason == "stopped" and first.global_step == 4 + 3 and first.epochs_done == 1
    progress = json.loads((tmp_path / "m" / "checkpoint" / "progress.json").read_text())
    assert progress["epoch"] == 1 and progress["global_step"] == 7  # epoch 2 restarts on resume
    second = train(data, CFG, tmp_path / "m", _parts(data, seed=3), resume=True)
    assert second.reason == "completed" and second.epochs_done == 3
    assert second.global_step == 7 + 2 * 4
    assert [h["epoch"] for h in second.history] == [1, 2, 3]


def test_resume_at_an_epoch_boundary_equals_an_uninterrupted_run(data, tmp_path):
    straight = train(data, CFG.replace(epochs=2), tmp_path / "a", _parts(data))
    train(data, CFG.replace(epochs=1), tmp_path / "b", _parts(data))
    resumed = train(data, CFG.replace(epochs=2), tmp_path / "b", _parts(data, seed=9), resume=True)
    assert resumed.history == straight.history
    a = (tmp_path / "a" / "checkpoint" / "state.msgpack").read_bytes()
    b = (tmp_path / "b" / "checkpoint" / "state.msgpack").read_bytes()
    assert a == b  # model and optimizer state identical


def test_nan_loss_stops_and_keeps_last_good_checkpoint(data, tmp_path):
    parts = _parts(data)
    saved = {}

    def poison_after_first_epoch(p):
        if p.phase == "epoch" and p.epoch == 1:
            saved["state"] = (tmp_path / "m" / "checkpoint" / "state.msgpack").read_bytes()
            saved["weights"] = (tmp_path / "m" / "weights.msgpack").read_bytes()
            parts.model.out.kernel[...] = np.nan

    result = train(data, CFG, tmp_path / "m", parts, progress=poison_after_first_epoch)
    assert result.reason == "nan" and result.epochs_done == 1 and result.global_step == 4
    assert (tmp_path / "m" / "checkpoint" / "state.msgpack").read_bytes() == saved["state"]
    assert (tmp_path / "m" / "weights.msgpack").read_bytes() == saved["weights"]
    assert all(np.all(np.isfinite(v)) for v in _weights(result.model).values())


def test_nan_before_any_checkpoint_is_a_clear_error(data, tmp_path):
    parts = _parts(data)
    parts.model.out.kernel[...] = np.nan
    with pytest.raises(TrainingError, match="NaN at step 1 .*before any checkpoint"):
        train(data, CFG, tmp_path / "m", parts)


def test_early_stopping_and_plateau_follow_the_validation_metric(data, tmp_path):
    def flat_metric(pred, target, mask, k):
        return {"iou": 0.5}

    cfg = CFG.replace(epochs=10, early_stopping=3, schedule="reduce-on-plateau", plateau_patience=1,
                      plateau_factor=0.5, learning_rate=1e-3)
    result = train(data, cfg, tmp_path / "m", _parts(data, metric=flat_metric))
    assert result.reason == "early-stopping"
    assert result.epochs_done == 4  # the first epoch sets the best, three more without improvement
    assert [h["learning_rate"] for h in result.history] == pytest.approx([1e-3, 1e-3, 5e-4, 2.5e-4])
    assert result.best_epoch == 1
