"""Every architecture on ResNet-34: mia (Flax) against segmentation_models_pytorch, same run.

    .venv/bin/python benchmarks/bench_zoo.py                  # 256x256 patches, batch 4
    .venv/bin/python benchmarks/bench_zoo.py --patch 128 --batch 2 --steps 3 --arch fpn

Needs the reference extra (``pip install -e ".[reference]"``). For each architecture prints the
parameter counts, train patches/s and inference MPix/s of mia's model and of smp's
(``encoder_weights=None``) in the default and the channels_last layout, and the ratios
mia / smp (above 1: mia is faster). Rounds alternate the frameworks so both see the same load of
a shared machine. Findings are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

SMP = {"unet": "Unet", "fpn": "FPN", "linknet": "Linknet", "pspnet": "PSPNet", "deeplabv3plus": "DeepLabV3Plus"}


def timed(run: Callable[[], None], repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``run``."""
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        out.append(time.perf_counter() - start)
    return out


def mia_runs(arch: str, args: argparse.Namespace) -> tuple[int, Callable[[], None], Callable[[], None]]:
    """(parameters, one train step, one batch of inference) of mia's model, compiled."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from mia_core.engine import steps
    from mia_core.engine.model import build_model
    from mia_core.plugins import load_plugins

    registry = load_plugins()
    model = build_model(registry, arch, "resnet34", args.classes, 3)
    params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
    step = steps.make_train_step(registry.get("losses", "cross_entropy"), args.classes)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(args.batch, args.patch, args.patch, 3)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, args.classes, x.shape[:3]), jnp.int32)
    weights = jnp.ones(x.shape[:3], jnp.float32)
    predictor = nnx.clone(model)
    predictor.eval()

    def train() -> None:
        jax.block_until_ready(step(model, optimizer, x, labels, weights))

    def infer() -> None:
        jax.block_until_ready(steps.predict_classes(predictor, x))

    return params, train, infer


def smp_runs(arch: str, args: argparse.Namespace, channels_last: bool):
    """(parameters, one train step, one batch of inference) of smp's model in PyTorch."""
    import segmentation_models_pytorch as smp
    import torch

    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = getattr(smp, SMP[arch])("resnet34", encoder_weights=None, classes=args.classes).to(memory_format=fmt)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(args.batch, 3, args.patch, args.patch)).astype(np.float32))
    x = x.contiguous(memory_format=fmt)
    y = torch.from_numpy(rng.integers(0, args.classes, (args.batch, args.patch, args.patch)))
    import copy

    predictor = copy.deepcopy(model).eval()
    model.train()

    def train() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    def infer() -> None:
        with torch.inference_mode():
            predictor(x).argmax(dim=1)

    return params, train, infer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", action="append", choices=sorted(SMP), help="only these (default all)")
    parser.add_argument("--patch", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="timed rounds per figure")
    args = parser.parse_args(argv)
    try:
        import segmentation_models_pytorch  # noqa: F401
        import torch
    except ImportError:
        print('needs the reference extra: pip install -e ".[reference]"', file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import os

    import jax

    print(f"resnet34 encoders, batch {args.batch} of {args.patch}x{args.patch}x3, {args.classes} classes; "
          f"jax {jax.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
    mpix = args.batch * args.patch * args.patch / 1e6
    for arch in args.arch or sorted(SMP):
        runs = {"mia": mia_runs(arch, args), "smp": smp_runs(arch, args, False), "smp-cl": smp_runs(arch, args, True)}
        for _, train, infer in runs.values():  # compile / allocate
            train()
            infer()
        times = {name: {"train": [], "infer": []} for name in runs}
        for r in range(args.steps):  # alternate the frameworks round by round
            order = list(runs) if r % 2 == 0 else list(runs)[::-1]
            for name in order:
                times[name]["train"] += timed(runs[name][1], 1)
                times[name]["infer"] += timed(runs[name][2], 1)
        med = {n: {k: statistics.median(v) for k, v in t.items()} for n, t in times.items()}
        line = [f"{arch:<14} params mia {runs['mia'][0]:,} smp {runs['smp'][0]:,}"]
        for name in runs:
            line.append(f"{name} train {args.batch / med[name]['train']:.2f} patches/s infer "
                        f"{mpix / med[name]['infer']:.2f} MPix/s")
        best_train = min(med["smp"]["train"], med["smp-cl"]["train"])
        best_infer = min(med["smp"]["infer"], med["smp-cl"]["infer"])
        line.append(f"mia/smp(best layout) train {best_train / med['mia']['train']:.2f}x "
                    f"infer {best_infer / med['mia']['infer']:.2f}x  [load {os.getloadavg()[0]:.2f}]")
        print(" | ".join(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
