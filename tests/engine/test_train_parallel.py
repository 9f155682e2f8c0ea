"""Data parallelism: one step with the batch split over 2 host devices equals the 1-device step."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
import jax
import numpy as np
from flax import nnx
from engine_helpers import tiny_net, weighted_cross_entropy
from mia_core.engine.config import TrainConfig
from mia_core.engine.optim import make_optimizer
from mia_core.engine.parallel import data_mesh, replicate_module, shard_batch
from mia_core.engine.steps import make_train_step

rng = np.random.default_rng(0)
images = rng.normal(size=(4, 32, 32, 1)).astype(np.float32)
targets = rng.integers(0, 2, (4, 32, 32)).astype(np.int32)
weights = rng.uniform(0, 2, (4, 32, 32)).astype(np.float32)
step = make_train_step(weighted_cross_entropy, 2)
out = {"devices": len(jax.devices())}
for n in (1, 2):
    model = tiny_net(1, 2, seed=3)
    out["initial_c2"] = np.asarray(model.c2.kernel[...]).tolist()
    opt = nnx.Optimizer(model, make_optimizer(TrainConfig(optimizer="sgd-nesterov", learning_rate=0.5)), wrt=nnx.Param)
    mesh = data_mesh(4, jax.devices()[:n])
    replicate_module(model, mesh)
    replicate_module(opt, mesh)
    batch = shard_batch([images, targets, weights], mesh)
    loss = float(step(model, opt, *batch))
    kernel = model.c2.kernel[...]
    out[n] = {
        "loss": loss,
        "batch_devices": len(batch[0].sharding.device_set),
        "param_devices": len(kernel.sharding.device_set),
        "params": {"/".join(map(str, k)): np.asarray(v).tolist() for k, v in nnx.to_flat_state(nnx.state(model))},
    }

# The whole loop on 2 devices (validation batches padded to the device count), and a batch
# size that 2 devices cannot split falling back to 1 device.
import tempfile
from pathlib import Path
from engine_helpers import reference_iou, write_blob_folder
from mia_core.engine.dataset import prepare_training_data
from mia_core.engine.train import Components, train
folder = Path(tempfile.mkdtemp())
write_blob_folder(folder / "img", 2, size=(64, 64))
for batch in (4, 3):
    cfg = TrainConfig(patch_size=32, batch_size=batch, steps_per_epoch=2, epochs=1, max_val_patches=5)
    data = prepare_training_data(folder / "img", cfg)
    parts = Components(tiny_net(1, 2), weighted_cross_entropy, reference_iou, "iou")
    result = train(data, cfg, folder / f"m{batch}", parts)
    out[f"loop{batch}"] = {"devices": result.devices, "metric": result.best_metric}
print(json.dumps(out))
"""


def test_two_devices_match_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    here = Path(__file__).parent
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(here)], env=env, capture_output=True, text=True,
                          timeout=300, cwd=here.parent.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    one, two = out["1"], out["2"]
    one["initial_c2"] = out["initial_c2"]
    assert out["devices"] == 2
    assert out["loop4"]["devices"] == 2 and out["loop3"]["devices"] == 1
    assert 0 <= out["loop4"]["metric"] <= 1
    assert one["batch_devices"] == 1 and two["batch_devices"] == 2 and two["param_devices"] == 2
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
    import numpy as np

    assert set(one["params"]) == set(two["params"])
    # SGD (not Adam): updates are proportional to the gradients, so the comparison is meaningful
    # even for parameters whose gradient is ~0 (a bias before BatchNorm).
    for key, value in one["params"].items():
        np.testing.assert_allclose(two["params"][key], value, rtol=1e-4, atol=1e-6, err_msg=key)
    # The step changed the weights (and BatchNorm statistics, computed over the whole batch).
    assert not np.allclose(one["params"]["c2/kernel"], one["initial_c2"])
