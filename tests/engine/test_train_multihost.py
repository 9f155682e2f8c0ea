"""Multi-host training: two processes joined by ``jax.distributed`` (CPU, gloo collectives) train
one model, as docs/training.md tells a cluster to, and agree on every weight."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

# One process of the run: join the two-process cluster, train on the shared folder, report.
SCRIPT = r"""
import json, sys
tests, folder, port, rank = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, tests)
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=rank)

import numpy as np
from flax import nnx
from engine_helpers import reference_iou, tiny_net, weighted_cross_entropy
from mia_core.engine.checkpoint import read_checkpoint_progress
from mia_core.engine.config import TrainConfig
from mia_core.engine.train import Components, train_folder

config = TrainConfig(patch_size=32, batch_size=4, steps_per_epoch=3, epochs=2, max_val_patches=6,
                     optimizer="sgd-nesterov", learning_rate=0.1)
model = tiny_net(1, 2, seed=5)
result = train_folder(f"{folder}/images", config, f"{folder}/model",
                      components=lambda c, k, ch: Components(model, weighted_cross_entropy, reference_iou, "iou"))
params = {"/".join(map(str, k)): np.asarray(v).tolist() for k, v in nnx.to_flat_state(nnx.state(model, nnx.Param))}
print(json.dumps({
    "rank": jax.process_index(), "processes": jax.process_count(), "devices": result.devices,
    "epochs": result.epochs_done, "metric": result.best_metric, "params": params,
    "progress_epoch": read_checkpoint_progress(f"{folder}/model")["epoch"],
}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_one_model_and_agree(tmp_path: Path):
    from engine_helpers import tiny_net, write_blob_folder

    from mia_core.engine.checkpoint import load_model

    write_blob_folder(tmp_path / "images", 3, size=(64, 64))
    here = Path(__file__).parent
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="")
    port = str(_free_port())
    logs = [(tmp_path / f"rank{rank}.out", tmp_path / f"rank{rank}.err") for rank in (0, 1)]
    procs = []
    try:
        for rank, (out, err) in enumerate(logs):  # output to files: a full pipe cannot block a rank
            with out.open("w") as o, err.open("w") as e:
                procs.append(subprocess.Popen(
                    [sys.executable, "-c", SCRIPT, str(here), str(tmp_path), port, str(rank)],
                    env=env, stdout=o, stderr=e, text=True, cwd=here.parent.parent))
        deadline = time.monotonic() + 300
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pytest.fail("the two-process run did not finish in 300 s")
    finally:
        for proc in procs:  # never leave a rank behind, whatever happened
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    outputs = []
    for proc, (out, err) in zip(procs, logs):
        assert proc.returncode == 0, err.read_text()[-3000:]
        outputs.append(json.loads(out.read_text().strip().splitlines()[-1]))
    first, second = outputs
    assert (first["rank"], second["rank"]) == (0, 1)
    assert first["processes"] == second["processes"] == 2
    assert first["devices"] == second["devices"] == 2  # one CPU device per process, one mesh over both
    assert first["epochs"] == second["epochs"] == 2 and first["progress_epoch"] == 2
    # every process took the same validation result, so the same early-stopping / LR decisions
    assert first["metric"] == pytest.approx(second["metric"], abs=1e-7)
    assert set(first["params"]) == set(second["params"])
    for key, value in first["params"].items():
        np.testing.assert_array_equal(second["params"][key], value, err_msg=key)
    # the model process 0 wrote is the model both processes ended with, and training changed it
    saved, _ = load_model(tmp_path / "model", builder=lambda info: tiny_net(1, 2, seed=5))
    from flax import nnx

    saved_params = {"/".join(map(str, k)): np.asarray(v) for k, v in nnx.to_flat_state(nnx.state(saved, nnx.Param))}
    initial = {"/".join(map(str, k)): np.asarray(v)
               for k, v in nnx.to_flat_state(nnx.state(tiny_net(1, 2, seed=5), nnx.Param))}
    for key, value in first["params"].items():
        np.testing.assert_allclose(saved_params[key], value, rtol=0, atol=0, err_msg=key)
    assert not np.allclose(saved_params["c2/kernel"], initial["c2/kernel"])
