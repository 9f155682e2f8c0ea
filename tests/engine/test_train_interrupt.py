"""A second Ctrl+C during ``mia train`` ends it at once and cleanly, the last checkpoint intact.

Each run is a real ``mia train`` process sent SIGINT twice at a chosen moment: while the first step
compiles, and while a checkpoint is being written.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine_helpers import SMALL_ARCH, SMALL_BACKBONE, write_blob_folder

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent

# Runs `mia train` with the small test components; prints a marker line at the moment to interrupt.
DRIVER = """
import sys, time
sys.path.insert(0, {here!r})
import mia_core.plugins
from engine_helpers import small_registry
mia_core.plugins.load_plugins = lambda disabled=None: small_registry(disabled or ())
moment = sys.argv[1]
if moment == "compile":
    import mia_core.engine.train as train
    real_make = train.make_train_step
    def make(*a, **k):
        step = real_make(*a, **k)
        def first(*args):
            print("MARK", flush=True)  # the first call traces and compiles
            return step(*args)
        return first
    train.make_train_step = make
else:
    import mia_core.engine.checkpoint as ckpt
    real_write = ckpt.atomic_write_bytes
    def slow_write(path, data):
        if path.name == "state.msgpack":
            print("MARK", flush=True)
            time.sleep(3)
        real_write(path, data)
    ckpt.atomic_write_bytes = slow_write
from mia_core.cli import main
sys.exit(main(sys.argv[2:]))
"""

SMALL = ["--arch", SMALL_ARCH, "--backbone", SMALL_BACKBONE, "--batch", "2", "--patch", "64", "--steps", "2"]


def _run(moment, args, interrupt=True, timeout=300):
    """Run the driver; on its marker send SIGINT twice; return (exit code, stderr)."""
    code = DRIVER.format(here=str(HERE))
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    proc = subprocess.Popen([sys.executable, "-c", code, moment, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        for line in proc.stdout:
            if interrupt and line.strip() == "MARK":
                proc.send_signal(signal.SIGINT)
                time.sleep(0.3)
                proc.send_signal(signal.SIGINT)
                break
        err = proc.stderr.read()
        proc.wait()
    finally:
        killer.cancel()
    return proc.returncode, err


def _files(model):
    return {n: (model / n).read_bytes() for n in ("weights.msgpack", "config.json", "checkpoint/state.msgpack",
                                                   "checkpoint/progress.json")}


def test_second_ctrl_c_while_compiling_exits_cleanly_and_keeps_the_checkpoint(tmp_path):
    write_blob_folder(tmp_path / "img", 2, size=(64, 64))
    model = tmp_path / "model"
    rc, err = _run("none", ["train", str(tmp_path / "img"), "--out", str(model), "--epochs", "1", *SMALL],
                   interrupt=False)
    assert rc == 0, err
    before = _files(model)
    rc, err = _run("compile", ["train", str(tmp_path / "img"), "--out", str(model), "--resume", "--epochs", "3"])
    assert rc == 130, err
    assert "Traceback" not in err and "Fatal Python error" not in err and "Segmentation" not in err
    assert f"aborted; the last checkpoint in {model} is kept" in err
    assert _files(model) == before


def test_second_ctrl_c_during_a_checkpoint_write_waits_for_it(tmp_path):
    from flax import serialization

    write_blob_folder(tmp_path / "img", 2, size=(64, 64))
    model = tmp_path / "model"
    rc, err = _run("write", ["train", str(tmp_path / "img"), "--out", str(model), "--epochs", "3", *SMALL])
    assert rc == 130, err
    assert "Traceback" not in err and "finishing the checkpoint being written, then aborting" in err
    root = model / "checkpoint"
    progress = json.loads((root / "progress.json").read_text())
    state = serialization.msgpack_restore((root / "state.msgpack").read_bytes())
    assert json.loads(state["progress"]) == progress and progress["epoch"] == 1 and progress["global_step"] == 2
    assert sorted(p.name for p in root.iterdir()) == ["progress.json", "state.msgpack"]  # no half-written file
