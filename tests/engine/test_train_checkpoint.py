"""Saved model folders: msgpack weights + JSON settings, clear errors for missing or damaged ones."""

import json

import numpy as np
import optax
import pytest
from flax import nnx, serialization

from engine_helpers import tiny_net
from mia_core.engine import checkpoint as ckpt
from mia_core.engine.config import TrainConfig


def _info(**changes):
    base = dict(architecture="unet", backbone="tiny", num_classes=3, in_channels=1,
                class_names=["background", "a", "b"], normalisation="per-image", patch_size=64)
    base.update(changes)
    return ckpt.ModelInfo(**base)


def _builder(seed=7, width=8):
    return lambda info: tiny_net(info.in_channels, info.num_classes, seed, width)


def _outputs(model, seed=0):
    x = np.random.default_rng(seed).normal(size=(1, 32, 32, 1)).astype(np.float32)
    model.eval()
    return np.asarray(model(x))


def test_save_and_load_round_trip(tmp_path):
    model = tiny_net(1, 3, seed=1)
    model.b1.mean[...] = np.linspace(0, 1, 8)  # running statistics are saved too
    ckpt.save_model(tmp_path / "m", model, _info())
    loaded, info = ckpt.load_model(tmp_path / "m", builder=_builder())
    assert info == _info()
    np.testing.assert_array_equal(_outputs(loaded), _outputs(model))
    assert loaded.b1.use_running_average is True  # eval mode
    raw = serialization.msgpack_restore((tmp_path / "m" / "weights.msgpack").read_bytes())
    np.testing.assert_array_equal(raw["c1"]["kernel"], np.asarray(model.c1.kernel[...]))
    settings = json.loads((tmp_path / "m" / "config.json").read_text())
    assert settings["format"] == "mia-model" and settings["num_classes"] == 3


def test_missing_or_incomplete_folders_are_named(tmp_path):
    with pytest.raises(ckpt.ModelLoadError, match=f"model folder {tmp_path / 'nope'} not found"):
        ckpt.load_model(tmp_path / "nope", builder=_builder())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ckpt.ModelLoadError, match="empty has no config.json"):
        ckpt.load_model(tmp_path / "empty", builder=_builder())
    ckpt.save_model(tmp_path / "m", tiny_net(1, 3), _info())
    (tmp_path / "m" / "weights.msgpack").unlink()
    with pytest.raises(ckpt.ModelLoadError, match="has no weights.msgpack"):
        ckpt.load_model(tmp_path / "m", builder=_builder())


@pytest.mark.parametrize("damage", ["garbage", "truncated", "json"])
def test_damaged_files_are_named(tmp_path, damage):
    ckpt.save_model(tmp_path / "m", tiny_net(1, 3), _info())
    weights = tmp_path / "m" / "weights.msgpack"
    if damage == "garbage":
        weights.write_bytes(b"\xc1\xc1 not msgpack")
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:100])
    else:
        (tmp_path / "m" / "config.json").write_text("{ not json")
    target = "config.json" if damage == "json" else "weights.msgpack"
    with pytest.raises(ckpt.ModelLoadError, match=target):
        ckpt.load_model(tmp_path / "m", builder=_builder())


def test_weights_of_another_network_are_refused(tmp_path):
    ckpt.save_model(tmp_path / "m", tiny_net(1, 3, width=8), _info())
    with pytest.raises(ckpt.ModelLoadError, match="does not fit this network"):
        ckpt.load_model(tmp_path / "m", builder=_builder(width=4))


def test_settings_file_of_something_else_is_refused(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "other"}))
    with pytest.raises(ckpt.ModelLoadError, match="not a mia model"):
        ckpt.read_model_info(tmp_path / "m")


def test_unknown_components_give_a_load_error_naming_the_folder(tmp_path):
    from mia_core.plugins import load_plugins

    ckpt.save_model(tmp_path / "m", tiny_net(1, 3), _info(backbone="no_such_backbone"))
    with pytest.raises(ckpt.ModelLoadError, match=r"cannot rebuild the model of .*m: .*no_such_backbone"):
        ckpt.load_model(tmp_path / "m", registry=load_plugins())


def test_checkpoint_restores_model_and_optimizer(tmp_path):
    model = tiny_net(1, 2, seed=0)
    opt = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    grads = nnx.state(model, nnx.Param)
    opt.update(model, grads)  # a non-trivial optimizer state
    progress = {"epoch": 3, "global_step": 30, "config": TrainConfig().to_dict()}
    ckpt.save_checkpoint(tmp_path, model, opt, progress)
    other = tiny_net(1, 2, seed=5)
    other_opt = nnx.Optimizer(other, optax.adam(1e-2), wrt=nnx.Param)
    assert ckpt.load_checkpoint(tmp_path, other, other_opt) == progress
    np.testing.assert_array_equal(_outputs(other), _outputs(model))
    a = nnx.to_pure_dict(nnx.state(opt))
    b = nnx.to_pure_dict(nnx.state(other_opt))
    np.testing.assert_array_equal(a["opt_state"][0]["mu"]["c1"]["kernel"], b["opt_state"][0]["mu"]["c1"]["kernel"])
    assert int(b["step"]) == 1
    assert ckpt.resume_config(tmp_path) == TrainConfig()


def test_no_checkpoint_to_resume_is_named(tmp_path):
    with pytest.raises(ckpt.ModelLoadError, match="no training checkpoint"):
        ckpt.resume_config(tmp_path)
