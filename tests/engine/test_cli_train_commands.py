"""``mia train`` and ``mia predict`` on the command line: progress, results, clear refusals."""

import json

import cv2
import numpy as np
import pytest

from engine_helpers import SMALL_ARCH, SMALL_BACKBONE, blob_image, small_registry, write_blob_folder
from mia_core.cli import main
from mia_core.label_store import label_path, load_labels, save_labels
from mia_core.labels import Contour, LabelSet


@pytest.fixture(autouse=True)
def _small_components(monkeypatch):
    """The commands load plugins through mia_core.plugins; add the small U-Net components."""
    import mia_core.plugins

    monkeypatch.setattr(mia_core.plugins, "load_plugins", lambda disabled=None: small_registry(disabled or ()))


SMALL = ["--arch", SMALL_ARCH, "--backbone", SMALL_BACKBONE, "--batch", "4", "--patch", "64", "--steps", "3"]


def test_train_then_resume(tmp_path, capsys):
    write_blob_folder(tmp_path / "img", 3, size=(64, 64))
    out = tmp_path / "model"
    code = main(["train", str(tmp_path / "img"), "--out", str(out), "--epochs", "2", "--lr", "0.003",
                 "--set", "augment.noise=0", "--set", "separate_contours=true", *SMALL])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "epoch 1/2 [####################] 3/3 loss " in err and " iou " in err and "ETA" in err
    assert f"model saved in {out}" in err
    # The data summary comes before the first step.
    assert err.index("mia train: training on 2 image(s): 2 with foreground, 0 all background") < err.index("epoch 1/2")
    assert "validation: on 1 image(s) held out of 3" in err
    assert err.index("mia train: estimated time: about ") < err.index("epoch 1/2")
    info = json.loads((out / "config.json").read_text())
    assert info["architecture"] == SMALL_ARCH and info["train"]["learning_rate"] == 0.003
    assert info["train"]["augment"]["noise"] == 0 and info["train"]["separate_contours"] is True
    # --resume takes the saved settings; only --epochs changes.
    code = main(["train", str(tmp_path / "img"), "--out", str(out), "--resume", "--epochs", "3"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "epoch 3/3" in err and "epoch 1/3" not in err
    progress = json.loads((out / "checkpoint" / "progress.json").read_text())
    assert progress["epoch"] == 3 and progress["global_step"] == 9
    assert progress["config"]["learning_rate"] == 0.003
    # A new run does not silently replace the model ...
    before = (out / "weights.msgpack").read_bytes()
    assert main(["train", str(tmp_path / "img"), "--out", str(out), "--epochs", "1", *SMALL]) == 2
    assert "already holds a model" in capsys.readouterr().err
    assert (out / "weights.msgpack").read_bytes() == before
    # ... unless asked to: then nothing of the old run is left.
    assert main(["train", str(tmp_path / "img"), "--out", str(out), "--epochs", "1", "--overwrite", *SMALL]) == 0
    capsys.readouterr()
    progress = json.loads((out / "checkpoint" / "progress.json").read_text())
    assert progress["epoch"] == 1 and progress["global_step"] == 3


def _square(cls, size=40):
    pts = np.array([[0, 0], [size - 1, 0], [size - 1, size - 1], [0, size - 1]], np.int32)
    return LabelSet([Contour(cls, pts)], (size, size))


@pytest.mark.parametrize(
    "setup,args,message",
    [
        ("unlabelled", [], "no labelled images in"),
        ("one-class", [], "only one class (1) is labelled"),
        ("blobs", ["--patch", "128"], "patch size 128 is larger than every training image"),
        ("blobs", ["--patch", "100"], "setting 'patch_size' must be a positive multiple of 32, got 100"),
        ("blobs", ["--lr", "-1"], "setting 'learning_rate' must be a finite number > 0"),
        ("blobs", ["--optimizer", "rmsprop"], "setting 'optimizer' must be one of adam, adamw, sgd-nesterov"),
        ("blobs", ["--set", "colour=red"], "unknown setting 'colour'"),
        ("blobs", ["--set", "epochs"], "--set takes NAME=VALUE"),
        ("blobs", ["--resume"], "no training checkpoint in"),
    ],
)
def test_train_refusals(tmp_path, capsys, setup, args, message):
    folder = tmp_path / "img"
    folder.mkdir()
    if setup == "blobs":
        write_blob_folder(folder, 2, size=(64, 64))
    else:
        cv2.imwrite(str(folder / "a.png"), np.zeros((160, 160), np.uint8))
        if setup == "one-class":
            save_labels(label_path(folder / "a.png"), _square(1, 160))
    code = main(["train", str(folder), "--out", str(tmp_path / "m"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.startswith("mia train: ")


def test_train_component_options_take_help_and_choices_from_the_registry(tmp_path, capsys):
    registry = small_registry(())
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for option, kind in [("--arch", "architectures"), ("--backbone", "backbones"), ("--loss", "losses"),
                         ("--metric", "metrics")]:
        names = registry.names(kind)
        assert names and all(name in help_text for name in names), (option, names)
    assert "cross_entropy (default)" in help_text
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(tmp_path), "--out", str(tmp_path / "m"), "--backbone", "nope"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --backbone: invalid choice: 'nope' (choose from" in err and SMALL_BACKBONE in err


def test_predict_command(trained_model, tmp_path, capsys):
    result = trained_model[0]
    rng = np.random.default_rng(11)
    image, truth = blob_image(rng, 100, 120, n_blobs=5)
    cv2.imwrite(str(tmp_path / "x.png"), image)
    assert main(["predict", str(result.model_dir), str(tmp_path), "--tta"]) == 0
    assert f"predicted 1 image(s)/frame(s): 1 label file(s) written to {tmp_path / 'Segmentation_labels'}" in capsys.readouterr().out
    pred = load_labels(label_path(tmp_path / "x.png")).to_class_map((100, 120))
    iou = np.count_nonzero((pred == 1) & (truth == 1)) / np.count_nonzero((pred == 1) | (truth == 1))
    assert iou > 0.9
    assert main(["predict", str(result.model_dir), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"already exist in {tmp_path / 'Segmentation_labels'}, e.g. x.npz; use --force" in err
    assert "force=True" not in err  # the command speaks of its options, not of the Python API
    assert main(["predict", str(result.model_dir), str(tmp_path), "--force", "--fov", "0,0,50,40"]) == 0
    pred = load_labels(label_path(tmp_path / "x.png")).to_class_map((100, 120))
    assert np.all(pred[40:] == -1) and np.all(pred[:, 50:] == -1)


def test_predict_goes_on_past_an_image_it_cannot_predict(trained_model, tmp_path, capsys):
    result = trained_model[0]
    rng = np.random.default_rng(14)
    big, _ = blob_image(rng, 300, 200, n_blobs=6)
    cv2.imwrite(str(tmp_path / "a_big.png"), big)
    cv2.imwrite(str(tmp_path / "b_rgb.png"), np.zeros((64, 64, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "c.png"), blob_image(rng, 64, 64)[0])
    assert main(["predict", str(result.model_dir), str(tmp_path), "--tile", "128", "--overlap", "16"]) == 1
    captured = capsys.readouterr()
    assert "[1/3] a_big.png" in captured.err and "[3/3] c.png" in captured.err
    assert "  tile 6/6" in captured.err  # 3 x 2 tiles of 128 px, progress per tile
    assert "skipped b_rgb.png: b_rgb.png has 3 channel(s)" in captured.err
    assert "predicted 2 image(s)/frame(s): 2 label file(s) written" in captured.out
    assert "1 could not be predicted" in captured.out
    assert label_path(tmp_path / "c.png").exists() and label_path(tmp_path / "a_big.png").exists()


def test_predict_refusals(trained_model, tmp_path, capsys):
    result = trained_model[0]
    cv2.imwrite(str(tmp_path / "rgb.png"), np.zeros((64, 64, 3), np.uint8))
    assert main(["predict", str(tmp_path / "missing"), str(tmp_path)]) == 2
    assert f"model folder {tmp_path / 'missing'} not found" in capsys.readouterr().err
    assert main(["predict", str(result.model_dir), str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "skipped rgb.png: rgb.png has 3 channel(s) but the model was trained on 1-channel images" in captured.err
    assert "predicted 0 image(s)/frame(s)" in captured.out and "1 could not be predicted" in captured.out
    assert main(["predict", str(result.model_dir), str(tmp_path), "--fov", "1,2,3"]) == 2
    assert "--fov takes X,Y,W,H" in capsys.readouterr().err
