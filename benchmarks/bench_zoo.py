"""The model zoo against segmentation_models_pytorch (smp): size, work and speed, same run.

    .venv/bin/python benchmarks/bench_zoo.py                          # every architecture on resnet34,
                                                                      # U-Net on one backbone per family
    .venv/bin/python benchmarks/bench_zoo.py --arch fpn --arch pspnet # these architectures, resnet34
    .venv/bin/python benchmarks/bench_zoo.py --backbone vgg16         # U-Net on this backbone
    .venv/bin/python benchmarks/bench_zoo.py --quick --arch linknet   # batch 2 of 128x128, 2 rounds

Needs the reference extra (``pip install -e ".[reference]"``). For each pair prints parameters,
GFLOPs per 256x256 patch, train patches/s and inference MPix/s of mia's model and of smp's
(``encoder_weights=None``) in PyTorch's default (NCHW) and channels_last layouts, and the ratios
mia / smp's faster layout (above 1: mia is faster). The three are timed in alternating rounds
(one train step of each, then one inference batch of each; the order reversed every round) and
the medians compared, so the load of other jobs on a shared machine hits all alike; ``uptime``
is printed with every pair. Findings are in benchmarks/README.md.

FLOPs (forward pass of one 256x256x3 patch): 2 per multiply-add of every convolution, padding
taps included (for a transposed convolution the taps of its input, not the inserted zeros). On the
smp side the convolution entries of ``torch.utils.flop_counter.FlopCounterMode``; on the mia side
the same sum over the ``conv_general_dilated`` equations of the forward pass's jaxpr, after
dead-code elimination (as ``jit`` does). Element-wise
work (normalisation, activations) is counted by neither; neither are matrix products, which in
smp are the few squeeze-excitation or classifier-free linear layers and in mia also carry bilinear
resizing and adaptive pooling (as small dense matrices): mia's matrix-product GFLOPs are printed
apart ("dot"), with XLA's own estimate of the whole forward pass
(``jax.jit(...).lower(...).cost_analysis()["flops"]``, which skips padding taps and adds 1 per
element-wise operation).
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

SMP_ARCH = {"unet": "Unet", "fpn": "FPN", "linknet": "Linknet", "pspnet": "PSPNet",
            "deeplabv3plus": "DeepLabV3Plus"}
# mia backbone -> the same network's smp encoder name; the U-Net default list is one per family.
SMP_ENCODER = {
    "resnet34": "resnet34", "resnext50": "resnext50_32x4d", "seresnet50": "se_resnet50",
    "seresnext50": "se_resnext50_32x4d", "efficientnetb0": "efficientnet-b0",
    "mobilenetv2": "mobilenet_v2", "vgg16": "vgg16", "densenet121": "densenet121",
    "inceptionv3": "tu-inception_v3", "xception": "xception", "inceptionresnetv2": "inceptionresnetv2",
    "mobilenet": "tu-mobilenetv1_100", "resnet18": "resnet18", "resnet50": "resnet50",
    "seresnet34": "tu-legacy_seresnet34", "senet154": "senet154", "vgg16_bn": "vgg16_bn",
}
FAMILIES = ["resnet34", "resnext50", "seresnet50", "seresnext50", "efficientnetb0", "mobilenetv2",
            "vgg16", "densenet121", "inceptionv3", "xception"]


def uptime() -> str:
    """The machine's ``uptime`` line (load of other jobs), or the load average where it is absent."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


@dataclass
class Contender:
    """One model of one framework: its size, work per patch and two timed calls."""

    params: int
    gflops: float
    train: Callable[[], None]
    infer: Callable[[], None]
    extra: str = ""
    times: dict[str, list[float]] = field(default_factory=lambda: {"train": [], "infer": []})

    def time(self, key: str) -> None:
        """One timed call of ``train`` or ``infer``."""
        run = self.train if key == "train" else self.infer
        start = time.perf_counter()
        run()
        self.times[key].append(time.perf_counter() - start)

    def median(self, key: str) -> float:
        """Median seconds per call."""
        return statistics.median(self.times[key])


def jaxpr_flops(jaxpr: Any) -> np.ndarray:
    """2 x multiply-adds of the (convolutions, dot products) of a jaxpr, sub-jaxprs included."""
    import jax.extend.core as jcore

    total = np.zeros(2)
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "conv_general_dilated":
            rhs = eqn.invars[1].aval.shape
            out_features = rhs[eqn.params["dimension_numbers"].rhs_spec[0]]
            dilated = np.prod(eqn.params["lhs_dilation"])  # transposed: count input taps, as torch
            total[0] += 2.0 * np.prod(eqn.outvars[0].aval.shape) * np.prod(rhs) / out_features / dilated
        elif name == "dot_general":
            (lhs_contract, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            total[1] += 2.0 * np.prod(eqn.outvars[0].aval.shape) * np.prod([lhs[d] for d in lhs_contract])
        repeat = eqn.params.get("length", 1) if name == "scan" else 1
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(sub, jcore.ClosedJaxpr):
                    total += repeat * jaxpr_flops(sub.jaxpr)
                elif isinstance(sub, jcore.Jaxpr):
                    total += repeat * jaxpr_flops(sub)
    return total


def mia_contender(arch: str, backbone: str, args: argparse.Namespace) -> Contender:
    """mia's model: the engine's own train step and prediction, compiled; FLOPs of one patch."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from mia_core.engine import steps
    from mia_core.engine.model import build_model
    from mia_core.plugins import load_plugins

    registry = load_plugins()
    model = build_model(registry, arch, backbone, args.classes, 3)
    params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
    predictor = nnx.clone(model)  # an eval-mode copy: no mode switch between timed calls
    predictor.eval()
    graphdef, state = nnx.split(predictor)

    def forward(state: Any, x: Any) -> Any:
        return nnx.merge(graphdef, state)(x)

    one = jax.ShapeDtypeStruct((1, 256, 256, 3), jnp.float32)
    from jax._src.interpreters import partial_eval as pe  # dead-code elimination, as jit does

    closed = jax.make_jaxpr(forward)(state, one)
    live, _ = pe.dce_jaxpr(closed.jaxpr, [True] * len(closed.jaxpr.outvars))
    conv, dot = jaxpr_flops(live) / 1e9  # e.g. PSPNet's unused encoder stages past stride 8 drop out
    cost = jax.jit(forward).lower(state, one).cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    extra = f"dot {dot:.2f}, XLA {cost.get('flops', float('nan')) / 1e9:.1f}"
    if args.flops_only:
        return Contender(params, conv, _nothing, _nothing, extra)
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
    step = steps.make_train_step(registry.get("losses", "cross_entropy"), args.classes)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(args.batch, args.patch, args.patch, 3)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, args.classes, x.shape[:3]), jnp.int32)
    weights = jnp.ones(x.shape[:3], jnp.float32)

    def train() -> None:
        jax.block_until_ready(step(model, optimizer, x, labels, weights))

    def infer() -> None:
        jax.block_until_ready(steps.predict_classes(predictor, x))

    return Contender(params, conv, train, infer, extra)


def _nothing() -> None:
    """No work (``--flops-only``)."""


def smp_contender(arch: str, encoder: str, args: argparse.Namespace, channels_last: bool) -> Contender:
    """smp's model in PyTorch (random weights), in the default or the channels_last layout."""
    import segmentation_models_pytorch as smp
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = getattr(smp, SMP_ARCH[arch])(encoder, encoder_weights=None, classes=args.classes)
    model = model.to(memory_format=fmt)
    params = sum(p.numel() for p in model.parameters())
    predictor = copy.deepcopy(model).eval()
    model.train()
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        predictor(torch.zeros(1, 3, 256, 256).contiguous(memory_format=fmt))
    conv = sum(n for op, n in counter.get_flop_counts()["Global"].items() if "conv" in str(op)) / 1e9
    if args.flops_only:
        return Contender(params, conv, _nothing, _nothing)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(args.batch, 3, args.patch, args.patch)).astype(np.float32))
    x = x.contiguous(memory_format=fmt)
    y = torch.from_numpy(rng.integers(0, args.classes, (args.batch, args.patch, args.patch)))

    def train() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    def infer() -> None:
        with torch.inference_mode():
            predictor(x).argmax(dim=1)

    return Contender(params, conv, train, infer)


@dataclass
class Result:
    """One pair's figures, for the closing table."""

    arch: str
    backbone: str
    line: str
    row: str


def measure(arch: str, backbone: str, args: argparse.Namespace) -> Result | None:
    """Build the three contenders, warm them up, time them in alternating rounds, print the line."""
    from mia_core.engine.model import incompatibility
    from mia_core.plugins import load_plugins

    registry = load_plugins()
    if backbone not in registry.names("backbones"):
        print(f"skip {arch}/{backbone}: no mia backbone {backbone!r} registered", flush=True)
        return None
    reason = incompatibility(registry.get("architectures", arch), registry.get("backbones", backbone))
    if reason:
        print(f"skip {arch}/{backbone}: {reason}", flush=True)
        return None
    encoder = SMP_ENCODER.get(backbone)
    if encoder is None:
        print(f"skip {arch}/{backbone}: no smp encoder known for it (SMP_ENCODER)", flush=True)
        return None
    print(f"{arch}/{backbone} (smp {encoder}): building  [{uptime()}]", flush=True)
    begin = time.perf_counter()
    try:
        runs = {"smp": smp_contender(arch, encoder, args, False), "smp-cl": smp_contender(arch, encoder, args, True)}
    except Exception as exc:  # noqa: BLE001 - smp refusing a pair is reported, not fatal
        print(f"skip {arch}/{backbone}: smp cannot build {SMP_ARCH[arch]}({encoder!r}): {exc}", flush=True)
        return None
    runs = {"mia": mia_contender(arch, backbone, args), **runs}
    if args.flops_only:
        mia, smp_nchw = runs["mia"], runs["smp"]
        print(f"{arch:<13} {backbone:<14} params mia {mia.params:,} smp {smp_nchw.params:,} | GFLOPs/patch "
              f"(convolutions) mia {mia.gflops:.2f} ({mia.extra}) smp {smp_nchw.gflops:.2f}", flush=True)
        return None
    for c in runs.values():  # compile (mia) / allocate (PyTorch)
        c.train()
        c.infer()
    print(f"  built and warmed up in {time.perf_counter() - begin:.0f} s", flush=True)
    for key in ("train", "infer"):
        for r in range(args.rounds):
            for c in list(runs.values())[:: 1 if r % 2 == 0 else -1]:
                c.time(key)
    mia, smp_nchw, smp_cl = runs["mia"], runs["smp"], runs["smp-cl"]
    mpix = args.batch * args.patch * args.patch / 1e6
    rate = {n: (args.batch / c.median("train"), mpix / c.median("infer")) for n, c in runs.items()}
    best_train = max(rate["smp"][0], rate["smp-cl"][0])
    best_infer = max(rate["smp"][1], rate["smp-cl"][1])
    ratio_train, ratio_infer = rate["mia"][0] / best_train, rate["mia"][1] / best_infer
    load = uptime().split("load average:")[-1].strip()
    line = (f"{arch:<13} {backbone:<14} params mia {mia.params:,} smp {smp_nchw.params:,} | "
            f"GFLOPs/patch mia {mia.gflops:.1f} ({mia.extra}) smp {smp_nchw.gflops:.1f} | train patches/s "
            f"mia {rate['mia'][0]:.2f} smp {rate['smp'][0]:.2f} / cl {rate['smp-cl'][0]:.2f} | infer MPix/s "
            f"mia {rate['mia'][1]:.3f} smp {rate['smp'][1]:.3f} / cl {rate['smp-cl'][1]:.3f} | "
            f"mia/smp-best train {ratio_train:.2f}x infer {ratio_infer:.2f}x  [load {load}]")
    print(line, flush=True)
    row = (f"| {arch} | {backbone} ({encoder}) | {mia.params:,} / {smp_nchw.params:,} | "
           f"{mia.gflops:.1f} / {smp_nchw.gflops:.1f} | {rate['mia'][0]:.2f} | {rate['smp'][0]:.2f} / "
           f"{rate['smp-cl'][0]:.2f} | {rate['mia'][1]:.3f} | {rate['smp'][1]:.3f} / {rate['smp-cl'][1]:.3f} | "
           f"**{ratio_train:.2f}x** | **{ratio_infer:.2f}x** | {load} |")
    del runs, mia, smp_nchw, smp_cl
    gc.collect()
    return Result(arch, backbone, line, row)


def pairs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """What to measure: the named architectures x the named backbones; by default every
    architecture on resnet34 and U-Net on one backbone per family."""
    if args.arch or args.backbone:
        return [(a, b) for a in args.arch or ["unet"] for b in args.backbone or ["resnet34"]]
    return [(a, "resnet34") for a in SMP_ARCH] + [("unet", b) for b in FAMILIES if b != "resnet34"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", action="append", choices=list(SMP_ARCH),
                        help="architecture (repeatable; with no --backbone: on resnet34)")
    parser.add_argument("--backbone", action="append", metavar="NAME",
                        help=f"mia backbone (repeatable; with no --arch: under U-Net); known to smp: "
                             f"{', '.join(SMP_ENCODER)}")
    parser.add_argument("--patch", type=int, default=256, help="train / inference patch side (FLOPs: always 256)")
    parser.add_argument("--batch", type=int, default=4, help="patches per train step and per inference call")
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5, help="alternating timed rounds per figure")
    parser.add_argument("--quick", action="store_true", help="batch 2 of 128x128, 2 rounds")
    parser.add_argument("--flops-only", action="store_true", help="parameters and FLOPs, no timing")
    args = parser.parse_args(argv)
    if args.quick:
        args.patch, args.batch, args.rounds = 128, 2, 2
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    try:
        import segmentation_models_pytorch as smp
        import torch
    except ImportError:
        print('bench_zoo needs the reference extra: pip install -e ".[reference]"', file=sys.stderr)
        return 2
    import jax

    print(f"batch {args.batch} of {args.patch}x{args.patch}x3, {args.classes} classes, {args.rounds} rounds; "
          f"jax {jax.__version__} on {jax.devices()[0]}, torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads), smp {smp.__version__}, {os.cpu_count()} CPUs  [{uptime()}]", flush=True)
    results = [r for a, b in pairs(args) if (r := measure(a, b, args)) is not None]
    if not results:
        return 0
    print("\n| architecture | backbone (smp encoder) | params mia / smp | GFLOPs/patch mia / smp | mia train "
          "patches/s | smp train NCHW / cl | mia infer MPix/s | smp infer NCHW / cl | train mia/smp-best | "
          "infer mia/smp-best | load (1, 5, 15 min) |")
    print("|" + "---|" * 11)
    for r in results:
        print(r.row)
    print(f"[{uptime()}]", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
