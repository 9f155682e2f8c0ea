"""A rough training time, said before the first step (CLI and app alike), from calibrated step costs.

No JAX here: the app shows the estimate while the settings are edited. The step costs were measured
on a 2-core CPU (``benchmarks/bench_quality.py`` notes the figures); a train step's time grows with
batch x patch area and shrinks with the CPU cores; other jobs running (the load average) slow it down.
The progress bar replaces the estimate with measured times after the first steps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mia_core.durations import format_seconds
from mia_core.engine.config import TrainConfig

#: Seconds of one train step (batch 4 of 128x128 patches, forward, backward, Adam) on an idle 2-core CPU:
#: ResNet-18 from bench_quality's default run (19 epochs of 50 steps with validation in 302 s at load
#: 0.5); the plain encoder at the ratio measured between the two under load (2.4 s vs 5.3 s).
STEP_SECONDS: dict[tuple[str, str], float] = {
    ("unet", "resnet18"): 0.28,
    ("unet", "plain"): 0.13,
}
#: Networks without a calibrated figure are assumed to cost like the heaviest calibrated one.
FALLBACK_STEP_SECONDS = max(STEP_SECONDS.values())
#: Compiling the train and validation steps on an idle 2-core CPU (the first step).
COMPILE_SECONDS = 12.0
REFERENCE_CORES = 2
REFERENCE_PIXELS = 4 * 128 * 128


@dataclass(frozen=True)
class TimeEstimate:
    """Seconds a run is expected to take, and the line that says so."""

    seconds: float
    text: str


def step_seconds(config: TrainConfig, cores: int | None = None, load: float | None = None) -> float:
    """Expected seconds of one train step of ``config`` on this machine, as loaded now."""
    base = STEP_SECONDS.get((config.architecture, config.backbone), FALLBACK_STEP_SECONDS)
    return base * _machine_factor(cores, load) * config.batch_size * config.patch_size ** 2 / REFERENCE_PIXELS


def _machine_factor(cores: int | None, load: float | None) -> float:
    """How much slower than the idle reference CPU: fewer cores, and other jobs sharing them."""
    cores = cores or os.cpu_count() or REFERENCE_CORES
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # not available on this platform
            load = 0.0
    return (REFERENCE_CORES / cores) * (1.0 + max(load, 0.0) / cores)


def estimate(config: TrainConfig, cores: int | None = None, load: float | None = None) -> TimeEstimate:
    """The whole run's expected time: compilation, every step and validation; bounded by the time budget."""
    step = step_seconds(config, cores, load)
    factor = _machine_factor(cores, load)
    val_batches = -(-config.max_val_patches // max(config.batch_size, 1))
    per_epoch = config.steps_per_epoch * step + val_batches * step / 3  # inference costs about a third
    seconds = COMPILE_SECONDS * factor + config.epochs * per_epoch
    calibrated = (config.architecture, config.backbone) in STEP_SECONDS
    known = "" if calibrated else f" ({config.architecture}/{config.backbone} is not calibrated: a guess)"
    if config.time_budget and config.time_budget < seconds:
        steps = max(int((config.time_budget - COMPILE_SECONDS * factor) / (per_epoch / config.steps_per_epoch)), 0)
        return TimeEstimate(float(config.time_budget),
                            f"estimated time: {format_seconds(config.time_budget)} (the time budget; about "
                            f"{step:.1f} s a step, so about {steps} of the {config.epochs * config.steps_per_epoch} "
                            f"steps{_load_text(load)}){known}")
    load_now = "" if load is None and not hasattr(os, "getloadavg") else _load_text(load)
    return TimeEstimate(seconds, f"estimated time: about {format_seconds(seconds)} ({config.epochs} epoch(s) of "
                        f"{config.steps_per_epoch} steps, about {step:.1f} s a step{load_now}; early stopping may "
                        f"end it sooner){known}")


def _load_text(load: float | None) -> str:
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            return ""
    return f" with the CPU load now {load:.1f}"
