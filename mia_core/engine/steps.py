"""The jitted training and evaluation steps (the loss sees one-hot targets).

Each step splits the model into a static graph and its arrays and runs a ``jax.jit``-compiled
pure function, so that XLA:CPU compile options (:data:`XLA_CPU_OPTIONS`) can be passed, which
``nnx.jit`` cannot; updated variables are written back into the modules as ``nnx.jit`` would.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import nnx

LossFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]

#: Compile options for the CPU backend. An empty YNNPACK fusion list makes XLA run convolutions
#: through its Eigen kernels, which measured 10-20 % less CPU time per U-Net train step than the
#: YNNPACK fusions jax 0.10.2 uses by default (benchmarks/README.md). Ignored on GPU/TPU.
XLA_CPU_OPTIONS: dict[str, Any] = {"xla_cpu_experimental_ynn_fusion_type": ""}


def compiler_options() -> dict[str, Any] | None:
    """:data:`XLA_CPU_OPTIONS` when the default backend is the CPU, else None."""
    return dict(XLA_CPU_OPTIONS) if jax.default_backend() == "cpu" else None


class _Static:
    """A GraphDef as a jit static argument: some GraphDefs hold dicts and cannot be hashed, so
    the hash is coarse (leaf count) and equality is the GraphDef's own."""

    def __init__(self, graphdef: Any) -> None:
        self.graphdef = graphdef

    def __hash__(self) -> int:
        return hash(getattr(self.graphdef, "num_leaves", 0))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Static) and bool(self.graphdef == other.graphdef)


def cpu_jit(fn: Callable[..., Any], **jit_kwargs: Any) -> Callable[..., Any]:
    """``jax.jit(fn)`` with :func:`compiler_options`, created on first call so that importing
    this module does not start a JAX backend."""
    compiled: list[Callable[..., Any]] = []

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        if not compiled:
            compiled.append(jax.jit(fn, compiler_options=compiler_options(), **jit_kwargs))
        return compiled[0](*args)

    return call


@functools.lru_cache(maxsize=8)
def make_train_step(loss_fn: LossFn, num_classes: int) -> Callable[..., jax.Array]:
    """A step that updates ``model`` through ``optimizer`` on one batch and returns the loss.

    Cached per (loss, classes) so a resumed or repeated run in the same process reuses the
    compiled step (the jitted function itself caches per model structure).
    """

    def pure_step(graphdef: _Static, state: Any, images: Any, targets: Any, weights: Any):
        model, optimizer = nnx.merge(graphdef.graphdef, state)

        def batch_loss(m: nnx.Module) -> jax.Array:
            logits = m(images)
            onehot = jax.nn.one_hot(targets, num_classes, dtype=jnp.float32)
            return loss_fn(logits.astype(jnp.float32), onehot, weights)

        loss, grads = nnx.value_and_grad(batch_loss)(model)
        optimizer.update(model, grads)
        return loss, nnx.state((model, optimizer))

    compiled = cpu_jit(pure_step, static_argnums=(0,))

    def train_step(model: nnx.Module, optimizer: nnx.Optimizer, images: Any, targets: Any, weights: Any):
        graphdef, state = nnx.split((model, optimizer))
        loss, new_state = compiled(_Static(graphdef), state, images, targets, weights)
        nnx.update((model, optimizer), new_state)
        return loss

    return train_step


def _model_inference(head: Callable[[jax.Array], jax.Array]) -> Callable[..., jax.Array]:
    """Jitted ``head(model(images))``; BatchNorm statistics a train-mode call changes are
    written back (only those, so inference does not copy every weight)."""

    def pure(graphdef: _Static, stats: Any, rest: Any, images: Any):
        model = nnx.merge(graphdef.graphdef, stats, rest)
        out = head(model(images))
        return out, nnx.state(model, nnx.BatchStat)

    compiled = cpu_jit(pure, static_argnums=(0,))

    def run(model: nnx.Module, images: Any) -> jax.Array:
        graphdef, stats, rest = nnx.split(model, nnx.BatchStat, ...)
        out, new_stats = compiled(_Static(graphdef), stats, rest, images)
        nnx.update(model, new_stats)
        return out

    return run


#: Most likely class of every pixel, (B, H, W) int32: ``predict_classes(model, images)``.
predict_classes = _model_inference(lambda logits: jnp.argmax(logits, axis=-1).astype(jnp.int32))

#: Class probabilities of every pixel, (B, H, W, K) float32: ``predict_probabilities(model, images)``.
predict_probabilities = _model_inference(lambda logits: jax.nn.softmax(logits.astype(jnp.float32), axis=-1))
