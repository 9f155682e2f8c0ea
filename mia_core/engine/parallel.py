"""Data-parallel placement with ``jax.sharding``: each batch split over devices, parameters replicated.

One mesh axis, ``data``.  Under ``jax.jit`` the gradient of a sharded batch is reduced across
devices by XLA itself, so the step code is the same on one device, several, or several hosts
(after ``jax.distributed.initialize()``, each process feeds its own share of the batch).
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mia_core.engine.config import ConfigError

AXIS = "data"


def data_mesh(batch_size: int, devices: Sequence[jax.Device] | None = None, enabled: bool = True) -> Mesh:
    """A 1-D mesh over as many devices as divide the batch (all of them on several hosts)."""
    devices = list(devices if devices is not None else jax.devices())
    if not enabled:
        devices = [d for d in devices if d.process_index == jax.process_index()][:1]
    n = len(devices)
    if jax.process_count() > 1:
        if batch_size % n:
            raise ConfigError(f"setting 'batch_size' ({batch_size}) must be a multiple of the {n} devices")
    else:
        while batch_size % n:
            n -= 1
    return Mesh(np.array(devices[:n]), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Sharding that keeps a full copy on every device of the mesh."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """Sharding that splits the leading (batch) axis over the mesh."""
    return NamedSharding(mesh, PartitionSpec(AXIS))


def replicate_module(module: Any, mesh: Mesh) -> None:
    """Put every array of an nnx object (model or optimizer) on every device of the mesh."""
    state = nnx.state(module)
    nnx.update(module, jax.device_put(state, replicated(mesh)))


def shard_batch(arrays: Sequence[np.ndarray], mesh: Mesh) -> list[jax.Array]:
    """Global arrays from this process's share of a batch, split along the batch axis."""
    sharding = batch_sharded(mesh)
    return [jax.make_array_from_process_local_data(sharding, np.asarray(a)) for a in arrays]


def gather(x: jax.Array) -> np.ndarray:
    """The whole of a batch-sharded array on this host (across hosts too)."""
    if jax.process_count() == 1:
        return np.asarray(x)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def local_rows(n: int) -> slice:
    """The rows of an n-row global batch that this process provides."""
    per = n // jax.process_count()
    start = jax.process_index() * per
    return slice(start, start + per)


def is_main_process() -> bool:
    """True on the process that writes files (the only one, on a single host)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process reaches this point (no-op on a single host)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def local_batch_size(batch_size: int) -> int:
    """How many samples of a global batch this process prepares."""
    count = jax.process_count()
    if batch_size % count:
        raise ConfigError(f"setting 'batch_size' ({batch_size}) must be a multiple of the {count} hosts")
    return batch_size // count
