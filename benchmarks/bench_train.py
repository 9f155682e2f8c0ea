"""Training and tiled-inference speed of mia's U-Net-ResNet34, with PyTorch as the reference.

    .venv/bin/python benchmarks/bench_train.py            # 256x256 patches, batch 8, 3 classes
    .venv/bin/python benchmarks/bench_train.py --quick    # smaller run to check the script
    .venv/bin/python benchmarks/bench_train.py --convolutions ynnpack   # jax's default conv kernels
    .venv/bin/python benchmarks/bench_train.py --upsample-conv upsample # decoder convs the textbook way

Prints one line per figure (with the load average, since the machine is shared) and, when torch
is importable (optional extra ``reference``), the same network and run in PyTorch and the ratios. The
two frameworks are timed in alternating rounds, so that both see the same load of other jobs.
Findings are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np


def load() -> str:
    """The 1-minute load average, to judge each figure on a shared machine."""
    return f"load {os.getloadavg()[0]:.2f}"


@dataclass
class Workload:
    """One timed piece of work of one framework: ``run`` does it once; ``work`` is how much (for rates)."""

    run: Callable[[], Any]
    work: float
    unit: str
    first: float = 0.0  # seconds of the first call (compilation included)
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def warm_up(self) -> None:
        """The first call, timed apart: it compiles (Flax) or allocates (PyTorch)."""
        start = time.perf_counter()
        self.run()
        self.first = time.perf_counter() - start

    def time_once(self) -> None:
        """One timed call: wall and process CPU seconds (CPU time is less hit by other jobs)."""
        start, start_cpu = time.perf_counter(), time.process_time()
        self.run()
        self.times.append(time.perf_counter() - start)
        self.cpu.append(time.process_time() - start_cpu)

    def report(self, label: str) -> None:
        """Print median time and throughput, with the load average."""
        median = statistics.median(self.times)
        print(
            f"{label:<30} first {self.first:6.2f} s  median {median:7.3f} s (min {min(self.times):.3f}, "
            f"n={len(self.times)}, cpu {statistics.median(self.cpu):.2f} s)  {self.work / median:7.3f} "
            f"{self.unit}  [{load()}]",
            flush=True,
        )


def tile_batches(image: np.ndarray, tile: int, batch: int) -> list[np.ndarray]:
    """Cut an (H, W, C) image into non-overlapping tiles stacked in batches."""
    h, w = image.shape[:2]
    tiles = [image[y : y + tile, x : x + tile] for y in range(0, h, tile) for x in range(0, w, tile)]
    return [np.stack(tiles[i : i + batch]) for i in range(0, len(tiles), batch)]


def flax_workloads(args: argparse.Namespace, image: np.ndarray) -> dict[str, Workload]:
    """The engine's own train step and tiled inference of U-Net-ResNet34."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    sys.path.insert(0, str(Path(__file__).parent))
    import weight_gradients

    from mia_core.engine import layers, steps
    from mia_plugins.architectures import unet_net
    from mia_plugins.architectures.unet import UNetArchitecture
    from mia_plugins.backbones.resnet import ResNetBackbone
    from mia_plugins.losses.cross_entropy import CrossEntropyLoss

    weight_gradients.install(args.weight_grad)
    unet_net.UPSAMPLE_CONV = args.upsample_conv
    if args.convolutions == "ynnpack":  # jax 0.10.2's own default
        steps.XLA_CPU_OPTIONS.clear()
    model = UNetArchitecture().build(
        ResNetBackbone("resnet34", (3, 4, 6, 3)), 3, args.classes, nnx.Rngs(0)
    )
    if args.dtype == "bfloat16":
        for _, module in nnx.iter_modules(model):
            if isinstance(module, layers.Conv2d):
                module.dtype = jnp.bfloat16
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
    step = steps.make_train_step(CrossEntropyLoss(), args.classes)  # the engine's own step

    rng = np.random.default_rng(0)
    size, batch = args.patch, args.batch
    x = jnp.asarray(rng.normal(size=(batch, size, size, 3)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, args.classes, (batch, size, size)), jnp.int32)
    weights = jnp.ones((batch, size, size), jnp.float32)

    def train_step() -> None:
        jax.block_until_ready(step(model, optimizer, x, labels, weights))

    work = {"train": Workload(train_step, batch, "patches/s")}
    predictor = nnx.clone(model)  # an eval-mode copy: no mode switch between the timed calls
    predictor.eval()
    megapixels = image.shape[0] * image.shape[1] / 1e6
    for tile in args.tiles:
        batches = [jnp.asarray(b) for b in tile_batches(image, tile, args.infer_batch)]

        def infer(batches: list[Any] = batches) -> None:
            for b in batches:  # the engine's own inference
                jax.block_until_ready(steps.predict_classes(predictor, b))

        work[f"infer{tile}"] = Workload(infer, megapixels, "MP/s")
    return work


def torch_workloads(args: argparse.Namespace, image: np.ndarray) -> dict[str, Workload] | None:
    """The same work in PyTorch, or None when torch is not installed."""
    try:
        import torch
    except ImportError:
        print("torch not importable: no reference (pip install -e \".[reference]\")")
        return None
    sys.path.insert(0, str(Path(__file__).parent))
    from torch_unet import UNet

    torch.manual_seed(0)
    model = UNet(3, args.classes)
    fmt = torch.channels_last if args.torch_channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    rng = np.random.default_rng(0)
    size, batch = args.patch, args.batch
    x = torch.from_numpy(rng.normal(size=(batch, 3, size, size)).astype(np.float32))
    x = x.contiguous(memory_format=fmt)
    y = torch.from_numpy(rng.integers(0, args.classes, (batch, size, size)))

    predictor = copy.deepcopy(model).eval()  # as for Flax: no mode switch inside the timed calls
    model.train()

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    work = {"train": Workload(train_step, batch, "patches/s")}
    megapixels = image.shape[0] * image.shape[1] / 1e6
    for tile in args.tiles:
        batches = [
            torch.from_numpy(b.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=fmt)
            for b in tile_batches(image, tile, args.infer_batch)
        ]

        def infer(batches: list[Any] = batches) -> None:
            with torch.inference_mode():
                for b in batches:
                    predictor(b).argmax(dim=1)

        work[f"infer{tile}"] = Workload(infer, megapixels, "MP/s")
    return work


def measure(frameworks: dict[str, dict[str, Workload]], repeats: dict[str, int]) -> None:
    """Warm every workload up, then time them in rounds that alternate the frameworks, so both
    see the same machine (the load of other jobs drifts over minutes)."""
    for name, work in frameworks.items():
        for key, w in work.items():
            w.warm_up()
            print(f"{name} {key}: first call {w.first:.2f} s", flush=True)
    keys = list(next(iter(frameworks.values())))
    order = list(frameworks.values())
    for key in keys:
        for round_index in range(repeats[key]):
            for work in order if round_index % 2 == 0 else order[::-1]:  # neither always goes first
                work[key].time_once()
        for name, work in frameworks.items():
            work[key].report(f"{name} {key}")


def compare(flax: dict[str, Workload], torch: dict[str, Workload]) -> None:
    """Print Flax speed / PyTorch speed: of the medians, of the minima, and the median of the
    per-round ratios (each round timed both back to back)."""
    for key, f in flax.items():
        t = torch[key]
        paired = statistics.median(tt / ft for ft, tt in zip(f.times, t.times))
        print(
            f"flax / torch {key:<10} {statistics.median(t.times) / statistics.median(f.times):5.2f}x "
            f"of the medians, {min(t.times) / min(f.times):5.2f}x of the minima, "
            f"{paired:5.2f}x median per round (n={len(f.times)})"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="timed train steps after the first")
    parser.add_argument("--quick", action="store_true", help="batch 2 of 128x128, 2 steps")
    parser.add_argument("--patch", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--image", type=int, default=1024, help="side of the tiled inference image")
    parser.add_argument("--tiles", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--infer-batch", type=int, default=4,
                        help="tiles per network call, both frameworks (default 4, as predict.TILE_BATCH)")
    parser.add_argument("--infer-repeats", type=int, default=5, help="timed inference runs per tile size")
    parser.add_argument("--weight-grad", choices=["auto", "xla", "blocked", "taps"], default="xla",
                        help="how convolution kernel gradients are computed (weight_gradients.py)")
    parser.add_argument("--convolutions", choices=["eigen", "ynnpack"], default="eigen",
                        help="XLA:CPU convolution kernels: Eigen (the engine's steps.XLA_CPU_OPTIONS) "
                             "or jax's default YNNPACK fusions")
    parser.add_argument("--upsample-conv", choices=["phase", "upsample"], default="phase",
                        help="decoder's first convolutions: at low resolution per output phase (the "
                             "engine's unet_net.UPSAMPLE_CONV) or on the up-sampled, concatenated tensor")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                        help="convolution compute dtype of the Flax model")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-flax", action="store_true")
    parser.add_argument("--torch-channels-last", action="store_true")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.infer_repeats < 1:
        parser.error("--steps and --infer-repeats must be at least 1")
    if args.quick:
        args.patch, args.batch, args.steps, args.image = 128, 2, 2, 512
        args.tiles, args.infer_repeats = [128, 256], 2

    import jax

    print(f"U-Net-ResNet34, {args.batch}x{args.patch}x{args.patch}x3, {args.classes} classes, "
          f"weight-grad={args.weight_grad}, upsample-conv={args.upsample_conv}, convolutions={args.convolutions}, "
          f"dtype={args.dtype}; jax {jax.__version__} on {jax.devices()[0]}; "
          f"{os.cpu_count()} CPUs; XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    image = np.random.default_rng(1).normal(size=(args.image, args.image, 3)).astype(np.float32)
    frameworks: dict[str, dict[str, Workload]] = {}
    if not args.no_flax:
        frameworks["flax"] = flax_workloads(args, image)
    if not args.no_torch:
        reference = torch_workloads(args, image)
        if reference is not None:
            frameworks["torch"] = reference
    if not frameworks:
        parser.error("nothing to measure (--no-flax and no torch)")
    repeats = {key: args.steps if key == "train" else args.infer_repeats for key in next(iter(frameworks.values()))}
    measure(frameworks, repeats)
    if "flax" in frameworks and "torch" in frameworks:
        compare(frameworks["flax"], frameworks["torch"])


if __name__ == "__main__":
    main()
