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
    assert progress["epoch"] == 1 and progress["step"] == 3 and progress["global_step"] == 7
    second = train(data, CFG, tmp_path / "m", _parts(data, seed=3), resume=True)
    assert second.reason == "completed" and second.epochs_done == 3
    assert second.global_step == 3 * 4  # epoch 2 goes on at its 4th step, not from the start
    assert [h["epoch"] for h in second.history] == [1, 2, 3]


def test_a_mid_epoch_stop_resumes_exactly_at_the_step(data, tmp_path):
    cfg = CFG.replace(epochs=4, steps_per_epoch=15)
    straight = train(data, cfg, tmp_path / "a", _parts(data))
    stop = threading.Event()

    def on_progress(p):
        if p.phase == "train" and p.epoch == 3 and p.step == 6:
            stop.set()

    train(data, cfg, tmp_path / "b", _parts(data), progress=on_progress, stop=stop)
    resumed = train(data, cfg, tmp_path / "b", _parts(data, seed=9), resume=True)
    assert straight.global_step == resumed.global_step == 60
    assert resumed.history == straight.history
    a = (tmp_path / "a" / "checkpoint" / "state.msgpack").read_bytes()
    b = (tmp_path / "b" / "checkpoint" / "state.msgpack").read_bytes()
    assert a == b  # model, optimizer state and progress identical


def test_a_crash_between_state_and_progress_files_resumes_a_matching_pair(data, tmp_path, monkeypatch):
    first = train(data, CFG.replace(epochs=1), tmp_path / "m", _parts(data))
    assert first.global_step == 4
    real = ckpt.atomic_write_bytes

    def crash_on_progress(path, payload):
        if path.name == "progress.json":
            raise OSError("simulated crash")
        real(path, payload)

    monkeypatch.setattr(ckpt, "atomic_write_bytes", crash_on_progress)
    with pytest.raises(OSError, match="simulated crash"):
        train(data, CFG.replace(epochs=2), tmp_path / "m", _parts(data), resume=True)
    monkeypatch.setattr(ckpt, "atomic_write_bytes", real)
    assert json.loads((tmp_path / "m" / "checkpoint" / "progress.json").read_text())["epoch"] == 1  # stale copy
    parts = _parts(data, seed=4)
    optimizer = nnx.Optimizer(parts.model, __import__("mia_core.engine.optim", fromlist=["x"]).make_optimizer(CFG),
                              wrt=nnx.Param)
    progress = ckpt.load_checkpoint(tmp_path / "m", parts.model, optimizer)
    assert progress["epoch"] == 2 and progress["global_step"] == 8  # the state's own progress


def test_a_checkpoint_of_the_earlier_layout_still_resumes_at_its_epoch(data, tmp_path):
    from flax import serialization

    stop = threading.Event()
    train(data, CFG, tmp_path / "m", _parts(data), stop=stop,
          progress=lambda p: p.phase == "train" and p.epoch == 2 and p.step == 2 and stop.set())
    root = tmp_path / "m" / "checkpoint"
    both = serialization.msgpack_restore((root / "state.msgpack").read_bytes())
    old = json.loads(both.pop("progress"))
    for key in ("step", "epoch_losses"):
        old.pop(key)
    (root / "state.msgpack").write_bytes(serialization.msgpack_serialize(both))
    (root / "progress.json").write_text(json.dumps(old))
    resumed = train(data, CFG, tmp_path / "m", _parts(data), resume=True)
    assert resumed.global_step == 12 and [h["epoch"] for h in resumed.history] == [1, 2, 3]


def test_overwrite_keeps_the_old_model_until_the_new_run_saves_a_checkpoint(data, tmp_path):
    train(data, CFG.replace(epochs=1), tmp_path / "m", _parts(data))
    names = ("config.json", "weights.msgpack", "checkpoint/state.msgpack", "checkpoint/progress.json")
    before = {n: (tmp_path / "m" / n).read_bytes() for n in names}

    def crash(p):
        if p.phase == "train" and p.step == 2:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        train(data, CFG.replace(epochs=2, learning_rate=5e-3), tmp_path / "m", _parts(data, seed=1),
              progress=crash, overwrite=True)
    assert {n: (tmp_path / "m" / n).read_bytes() for n in names} == before
    stop = threading.Event()
    stopped = train(data, CFG.replace(epochs=2, learning_rate=5e-3), tmp_path / "m", _parts(data, seed=1),
                    overwrite=True, stop=stop, progress=lambda p: p.step == 1 and stop.set())
    assert stopped.reason == "stopped"
    after = {n: (tmp_path / "m" / n).read_bytes() for n in names}
    assert all(after[n] != before[n] for n in names)  # all of the new run, nothing of the old
    assert ckpt.read_model_info(tmp_path / "m").train["learning_rate"] == 5e-3


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


def test_a_float_image_with_nan_and_inf_pixels_trains(tmp_path):
    import tifffile

    from engine_helpers import blob_image
    from mia_core.label_store import label_path, save_labels
    from mia_core.raster import labels_from_class_map

    rng = np.random.default_rng(4)
    for i in range(2):
        image, truth = blob_image(rng, 64, 64)
        pixels = image.astype(np.float32)
        pixels[3:6, 3:9], pixels[30, 30], pixels[50, 10] = np.nan, np.inf, -np.inf
        tifffile.imwrite(tmp_path / f"f{i}.tif", pixels)
        save_labels(label_path(tmp_path / f"f{i}.tif"), labels_from_class_map(truth, ignore=(-1,)))
    data = prepare_training_data(tmp_path, CFG)
    assert all(np.isfinite(s.image).all() for s in data.train + data.val)
    result = train(data, CFG.replace(epochs=1), tmp_path / "m", _parts(data))
    assert result.reason == "completed" and np.isfinite(result.history[0]["loss"])
