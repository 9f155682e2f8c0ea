"""The training loop: epochs of jitted steps on random patches, validation, checkpoints, stopping.

Runs in whatever thread calls it: the app passes a ``progress`` callback and a ``stop``
``threading.Event`` and runs it in a worker; ``mia train`` draws a text progress bar.  The model
folder always holds the best epoch's weights; ``checkpoint/`` holds the last finished epoch (or the
point where the user stopped) for ``resume``.  A non-finite loss stops the run without saving, so
the last good checkpoint stays.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np
from flax import nnx

from mia_core.engine import checkpoint as ckpt
from mia_core.engine.batches import BatchStream, make_batch, stack
from mia_core.engine.config import ConfigError, TrainConfig
from mia_core.engine.dataset import TrainingData, TrainingDataError, prepare_training_data
from mia_core.object_scale import scales_to_json
from mia_core.engine.optim import make_optimizer, set_learning_rate
from mia_core.engine.parallel import (
    barrier,
    data_mesh,
    gather,
    is_main_process,
    local_batch_size,
    local_rows,
    replicate_module,
    shard_batch,
)
from mia_core.engine.patches import Patch, PatchSampler, validation_patches
from mia_core.engine.schedule import LearningRateSchedule, ScheduleState
from mia_core.engine.steps import make_train_step, predict_classes


class TrainingError(RuntimeError):
    """Training could not produce a usable model (e.g. the loss diverged before any checkpoint)."""


@dataclass
class Progress:
    """One progress report: where the run is, how it goes, and how long it still needs."""

    phase: str  # "train" (after a step), "epoch" (after validation), "done"
    epoch: int  # 1-based
    epochs: int
    step: int  # 1-based step within the epoch
    steps: int
    global_step: int
    loss: float | None  # mean loss of the epoch so far
    metric: float | None  # last validation metric
    metric_name: str
    learning_rate: float
    eta_s: float | None  # seconds left, None until measured
    message: str = ""


ProgressCallback = Callable[[Progress], None]


@dataclass
class TrainResult:
    """How a run ended and where its model is."""

    model_dir: Path
    model: nnx.Module  # best weights, eval mode
    info: ckpt.ModelInfo
    reason: str  # "completed", "early-stopping", "stopped", "nan"
    epochs_done: int
    global_step: int
    best_metric: float | None
    best_epoch: int
    history: list[dict[str, Any]] = field(default_factory=list)
    devices: int = 1


@dataclass
class Components:
    """The network and the loss/metric functions a run uses."""

    model: nnx.Module
    loss: Callable[..., Any]
    metric: Callable[..., dict[str, Any]]
    metric_name: str


def resolve_components(config: TrainConfig, num_classes: int, in_channels: int, registry: Any = None) -> Components:
    """Build the network and find the loss and metric named in ``config`` in the plugin registry."""
    if registry is None:
        from mia_core.plugins import load_plugins

        registry = load_plugins()
    info = ckpt.ModelInfo(config.architecture, config.backbone, num_classes, in_channels, [], config.normalisation, config.patch_size)
    model = ckpt.build_from_registry(registry, seed=config.seed)(info)
    try:
        loss = registry.get("losses", config.loss)
        metric = registry.get("metrics", config.metric)
    except KeyError as exc:
        raise ConfigError(exc.args[0] if exc.args else str(exc)) from exc
    return Components(model, loss, metric, metric.name)


def check_component_names(config: TrainConfig, registry: Any) -> None:
    """Fail fast, before any data is read, on a component name the registry does not know."""
    for kind, name in (("architectures", config.architecture), ("backbones", config.backbone),
                       ("losses", config.loss), ("metrics", config.metric)):
        try:
            registry.get(kind, name)
        except KeyError as exc:
            raise ConfigError(exc.args[0] if exc.args else str(exc)) from exc


def check_fresh_folder(out_dir: str | Path, overwrite: bool = False) -> None:
    """Refuse to start a new run over a folder that already holds a model (unless ``overwrite``)."""
    out = Path(out_dir)
    found = [n for n in (ckpt.CONFIG_FILE, ckpt.WEIGHTS_FILE, ckpt.CHECKPOINT_DIR) if (out / n).exists()]
    if found and not overwrite:
        raise ConfigError(
            f"model folder {out} already holds a model ({', '.join(found)}); resume it (--resume), "
            "replace it (--overwrite) or choose another --out"
        )


def pretrained_start(registry: Any, config: TrainConfig) -> tuple[dict[str, Any], TrainConfig]:
    """The cached encoder weights ``config.weights`` names, and the config with their input normalisation."""
    from mia_core import weights as store

    if registry is None:
        from mia_core.plugins import load_plugins

        registry = load_plugins()
    try:
        name = store.resolve(registry, config.backbone, config.weights)
        arrays, meta = store.load(name)
    except store.WeightsError as exc:
        raise ConfigError(str(exc)) from None
    if arrays.get("format") != "backbone":
        raise ConfigError(f"weights {name!r} are not encoder weights")
    return arrays, config.replace(normalisation="encoder", input_normalisation=meta["normalisation"])


def start_from_pretrained(model: nnx.Module, arrays: dict[str, Any], config: TrainConfig) -> None:
    """Load pretrained weights into the model's ``encoder`` (first convolution adapted to the channels)."""
    from mia_core.engine.pretrained import apply_encoder_weights

    encoder = getattr(model, "encoder", None)
    if encoder is None:
        raise ConfigError(f"architecture {config.architecture} keeps no 'encoder' to load weights {config.weights!r} into")
    try:
        apply_encoder_weights(encoder, arrays, f"weights {config.weights!r}")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def train_folder(
    folder: str | Path,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    registry: Any = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    resume: bool = False,
    overwrite: bool = False,
    components: Callable[[TrainConfig, int, int], Components] | None = None,
    on_data: Callable[[TrainingData], None] | None = None,
) -> TrainResult:
    """Train on the labelled images of ``folder`` and save the model in ``out_dir``.

    ``on_data`` sees the prepared data before training starts (the data summary).
    """
    config.validate()
    if not resume:
        check_fresh_folder(out_dir, overwrite)
    if components is None:
        if registry is None:
            from mia_core.plugins import load_plugins

            registry = load_plugins()
        check_component_names(config, registry)
    pretrained = None
    if config.weights and not resume:
        pretrained, config = pretrained_start(registry, config)
    data = prepare_training_data(folder, config)
    if on_data is not None:
        on_data(data)
    if resume:
        saved = ckpt.read_model_info(out_dir)
        if (saved.num_classes, saved.in_channels) != (data.num_classes, data.in_channels):
            raise TrainingDataError(
                f"cannot resume {out_dir}: it has {saved.num_classes} classes and {saved.in_channels} channels, "
                f"the images of {folder} have {data.num_classes} and {data.in_channels}"
            )
    make = components or (lambda c, k, ch: resolve_components(c, k, ch, registry))
    parts = make(config, data.num_classes, data.in_channels)
    if pretrained is not None:
        start_from_pretrained(parts.model, pretrained, config)
    return train(data, config, out_dir, parts, progress=progress, stop=stop, resume=resume, overwrite=overwrite)


def train(
    data: TrainingData,
    config: TrainConfig,
    out_dir: str | Path,
    parts: Components,
    *,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    resume: bool = False,
    overwrite: bool = False,
    devices: list[Any] | None = None,
) -> TrainResult:
    """Run the training loop on prepared data with prepared components."""
    config.validate()
    out = Path(out_dir)
    if not resume:  # with overwrite, the old model stays until this run saves its first checkpoint
        check_fresh_folder(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    model, k = parts.model, data.num_classes
    info = ckpt.ModelInfo(
        config.architecture, config.backbone, k, data.in_channels, ckpt.default_class_names(config, k),
        config.normalisation, config.patch_size, metric=parts.metric_name, train=config.to_dict(),
        input_normalisation=config.input_normalisation, objects=scales_to_json(data.objects),
    )
    optimizer = nnx.Optimizer(model, make_optimizer(config), wrt=nnx.Param)
    schedule = LearningRateSchedule(config)
    start_epoch, start_step, global_step, history, partial = 0, 0, 0, [], []
    saved_model = resume  # has this run's model reached the folder (an old one may be there)?
    if resume:
        saved = ckpt.load_checkpoint(out, model, optimizer)
        start_epoch, global_step = int(saved["epoch"]), int(saved["global_step"])
        if "step" in saved:  # stopped mid-epoch: go on at the next step
            start_step, partial = int(saved["step"]), [float(v) for v in saved.get("epoch_losses", [])]
        else:  # a checkpoint of an earlier mia restarts its epoch
            global_step = start_epoch * int(saved["config"].get("steps_per_epoch", config.steps_per_epoch))
        schedule.state = ScheduleState(**saved["schedule"])
        history = list(saved.get("history", []))
    mesh = data_mesh(config.batch_size, devices, enabled=config.data_parallel)
    replicate_module(model, mesh)
    replicate_module(optimizer, mesh)
    sampler = PatchSampler(
        data.train,
        config.patch_size,
        config.prefer_labelled_tries if config.prefer_labelled else 0,
        config.prefer_labelled_min_pixels,
    )
    val = validation_patches(data.val, config.patch_size, config.max_val_patches, config.seed)
    step_fn = make_train_step(parts.loss, k)
    clock = _Clock(config)
    report = progress or (lambda p: None)
    reason, last_metric = "completed", schedule.state.best
    for epoch in range(start_epoch, config.epochs):
        planned = clock.planned_epochs(epoch, config.time_budget) if config.time_budget else None
        if planned is not None:  # (kept in the checkpoint: a resumed run's first epoch has no timing yet)
            schedule.state.planned_epochs = planned if planned < config.epochs else None
        rate = schedule.rate_for_epoch(epoch, schedule.state.planned_epochs)
        set_learning_rate(optimizer, rate)

        def on_step(i: int, g: int, mean: float, epoch: int = epoch, rate: float = rate,
                    metric: float | None = last_metric) -> None:
            report(Progress("train", epoch + 1, config.epochs, i, config.steps_per_epoch, g, mean, metric,
                            parts.metric_name, rate, clock.eta(epoch, i)))

        first = start_step if epoch == start_epoch else 0
        done_before = partial if epoch == start_epoch else []
        losses, reason = _train_epoch(model, optimizer, step_fn, sampler, mesh, config, epoch, global_step - first,
                                      stop, clock, on_step, first, done_before)
        global_step += len(losses) - len(done_before)
        if reason == "nan":
            return _diverged(out, model, info, global_step, epoch, schedule, history, mesh, saved_model)
        if reason == "stopped":
            if is_main_process():
                if not saved_model:
                    ckpt.save_model(out, model, replace(info, epoch=epoch))
                record = _progress_record(config, epoch, global_step, schedule, history)
                record.update(step=len(losses), epoch_losses=losses)
                ckpt.save_checkpoint(out, model, optimizer, record)
            barrier("mia-stop-saved")
            break
        t0 = time.perf_counter()
        model.eval()
        metric = evaluate(model, val, parts.metric, parts.metric_name, k, config.batch_size, mesh)
        clock.validation_done(time.perf_counter() - t0)
        last_metric = metric
        improved = schedule.end_epoch(epoch, metric)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else None,
                        parts.metric_name: metric, "learning_rate": rate})
        if is_main_process():
            if improved or not saved_model:
                ckpt.save_model(out, model, replace(info, epoch=epoch, metric_value=metric))
                saved_model = True
            ckpt.save_checkpoint(out, model, optimizer, _progress_record(config, epoch + 1, global_step, schedule, history))
        barrier(f"mia-epoch-{epoch}-saved")
        report(Progress("epoch", epoch + 1, config.epochs, config.steps_per_epoch, config.steps_per_epoch,
                        global_step, history[-1]["loss"], metric, parts.metric_name, rate,
                        clock.eta(epoch, config.steps_per_epoch, validated=True)))
        if schedule.should_stop():
            reason = "early-stopping"
            break
        if config.time_budget and not clock.next_epoch_fits(config.time_budget):
            reason = "time-budget"
            break
    best, info = _best_model(out, model)
    done = len(history)
    report(Progress("done", done, config.epochs, 0, config.steps_per_epoch, global_step, None,
                    schedule.state.best, parts.metric_name, schedule.state.learning_rate, 0.0, reason))
    return TrainResult(out, best, info, reason, done, global_step, schedule.state.best,
                       schedule.state.best_epoch + 1, history, mesh.size)


def _train_epoch(
    model: nnx.Module, optimizer: nnx.Optimizer, step_fn: Callable[..., Any], sampler: PatchSampler, mesh: Any,
    config: TrainConfig, epoch: int, global_step: int, stop: threading.Event | None, clock: "_Clock",
    on_step: Callable[[int, int, float], None], first_step: int = 0, done_before: list[float] | None = None,
) -> tuple[list[float], str]:
    """Run one epoch's steps from ``first_step`` (the batches before it are drawn and dropped, so a
    resumed epoch sees the batches it would have seen); return the epoch's finite losses so far
    (``done_before`` first) and "completed", "stopped" or "nan"."""
    model.train()
    rng = np.random.default_rng([config.seed, epoch, jax.process_index()])  # resumable per epoch
    for _ in range(first_step):
        make_batch(sampler, local_batch_size(config.batch_size), config.augment, rng)
    stream = BatchStream(sampler, local_batch_size(config.batch_size), config.augment, rng)
    losses: list[float] = list(done_before or [])
    try:
        for step in range(first_step, config.steps_per_epoch):
            if stop is not None and stop.is_set():
                return losses, "stopped"
            t0 = time.perf_counter()
            batch = next(stream)
            loss = float(step_fn(model, optimizer, *shard_batch([batch.images, batch.targets, batch.weights], mesh)))
            clock.step_done(time.perf_counter() - t0)
            if not math.isfinite(loss):
                return losses, "nan"
            losses.append(loss)
            on_step(step + 1, global_step + len(losses), float(np.mean(losses)))
    finally:
        stream.close()
    return losses, "completed"


def evaluate(
    model: nnx.Module, patches: list[Patch], metric: Callable[..., dict[str, Any]], metric_name: str,
    num_classes: int, batch_size: int, mesh: Any,
) -> float:
    """The headline validation metric of ``model`` (in its current mode) on fixed patches."""
    if not patches:
        return float("nan")
    preds = []
    n_dev = mesh.size
    for i in range(0, len(patches), batch_size):
        batch = stack(patches[i:i + batch_size])
        n = len(batch.images)
        pad = (-n) % n_dev  # every device gets the same number of rows
        images = np.concatenate([batch.images, np.zeros((pad,) + batch.images.shape[1:], np.float32)]) if pad else batch.images
        (sharded,) = shard_batch([images[local_rows(len(images))]], mesh)
        preds.append(gather(predict_classes(model, sharded))[:n])
    pred = np.concatenate(preds)
    target = np.stack([p.target for p in patches]).astype(np.int32)
    mask = target >= 0
    result = metric(pred, np.maximum(target, 0), mask, num_classes)
    return headline(result, metric_name)


def headline(result: dict[str, Any], metric_name: str) -> float:
    """The metric's main value: the entry named after the metric (else the first scalar)."""
    if metric_name in result:
        return float(result[metric_name])
    for value in result.values():
        if np.ndim(value) == 0:
            return float(value)
    raise TrainingError(f"metric {metric_name!r} returned no scalar value: {sorted(result)}")


def _progress_record(config: TrainConfig, next_epoch: int, global_step: int, schedule: LearningRateSchedule,
                     history: list[dict[str, Any]]) -> dict[str, Any]:
    """What a checkpoint remembers about the loop."""
    return {"epoch": next_epoch, "global_step": global_step, "schedule": schedule.state.to_dict(),
            "history": history, "config": config.to_dict()}


def _best_model(out: Path, model: nnx.Module) -> tuple[nnx.Module, ckpt.ModelInfo]:
    """Load the saved best weights back into ``model`` (eval mode)."""
    info = ckpt.read_model_info(out)
    ckpt.restore_state(model, (out / ckpt.WEIGHTS_FILE).read_bytes(), out / ckpt.WEIGHTS_FILE)
    model.eval()
    return model, info


def _diverged(out: Path, model: nnx.Module, info: ckpt.ModelInfo, global_step: int, epoch: int,
              schedule: LearningRateSchedule, history: list[dict[str, Any]], mesh: Any,
              saved_model: bool) -> TrainResult:
    """Stop on a non-finite loss: keep the last good checkpoint, return its model."""
    if not saved_model:
        raise TrainingError(
            f"the loss became NaN at step {global_step + 1} (epoch {epoch + 1}) before any checkpoint was "
            f"saved in {out}; lower the learning rate or check the labels"
        )
    best, info = _best_model(out, model)
    return TrainResult(out, best, info, "nan", len(history), global_step, schedule.state.best,
                       schedule.state.best_epoch + 1, history, mesh.size)


class _Clock:
    """Estimates the time left from measured step and validation durations."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.step_time: float | None = None
        self.val_time = 0.0
        self.first = True
        self.started = time.perf_counter()

    def step_done(self, seconds: float) -> None:
        if self.first:  # the first step includes compilation
            self.first = False
            return
        self.step_time = seconds if self.step_time is None else 0.9 * self.step_time + 0.1 * seconds

    def validation_done(self, seconds: float) -> None:
        self.val_time = seconds  # the latest: the first one includes compilation

    def next_epoch_fits(self, budget: float) -> bool:
        """True when one more epoch (its steps and validation) ends within ``budget`` seconds of the start."""
        if self.step_time is None:
            return True
        epoch = self.config.steps_per_epoch * self.step_time + self.val_time
        return time.perf_counter() - self.started + epoch <= budget

    def planned_epochs(self, epoch: int, budget: float) -> int | None:
        """How many epochs the run will have when it goes on from 0-based ``epoch`` until ``budget``
        seconds are spent (None before an epoch has been timed)."""
        if self.step_time is None:
            return None
        per_epoch = self.config.steps_per_epoch * self.step_time + self.val_time
        fits = int((budget - (time.perf_counter() - self.started)) // max(per_epoch, 1e-9))
        return epoch + max(fits, 1)

    def eta(self, epoch: int, step: int, validated: bool = False) -> float | None:
        if self.step_time is None:
            return None
        cfg = self.config
        left_steps = (cfg.epochs - epoch - 1) * cfg.steps_per_epoch + (cfg.steps_per_epoch - step)
        left_vals = cfg.epochs - epoch - (1 if validated else 0)
        return left_steps * self.step_time + left_vals * self.val_time
