"""``mia train``: train a segmentation model on a folder of labelled images, with a progress bar."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from mia_core import cli
from mia_core.durations import format_seconds

_EPILOG = """\
settings:
  every setting of the training engine (see docs/training.md) can be set with --set NAME=VALUE,
  e.g. --set separate_contours=true --set augment.noise=0 --set manual_class_weights=0.5,2
  --config FILE reads them from a JSON object instead. With --resume, the settings saved in the
  checkpoint are used and only the options given on the command line change them (e.g. --epochs).

Ctrl+C stops after the current step and saves a checkpoint; --resume continues from it at that
step. A second Ctrl+C aborts at once and keeps the last checkpoint.
"""

#: Command-line option -> TrainConfig setting.
_OPTIONS = {
    "arch": "architecture",
    "backbone": "backbone",
    "loss": "loss",
    "metric": "metric",
    "epochs": "epochs",
    "steps": "steps_per_epoch",
    "batch": "batch_size",
    "patch": "patch_size",
    "lr": "learning_rate",
    "optimizer": "optimizer",
    "schedule": "schedule",
    "val": "val_folder",
    "val_fraction": "val_fraction",
    "class_weights": "class_weights",
    "early_stop": "early_stopping",
    "seed": "seed",
    "weights": "weights",
}


#: Options naming a plugin component: (option, registry kind, what it is).
_COMPONENT_OPTIONS = (
    ("arch", "architectures", "architecture"),
    ("backbone", "backbones", "encoder"),
    ("loss", "losses", "training loss"),
    ("metric", "metrics", "validation metric"),
)


def _installed_names() -> dict[str, tuple[str, ...]]:
    """Names of the installed components per kind (empty when plugins cannot be loaded)."""
    from mia_core.plugins import load_plugins

    try:
        registry = load_plugins()
        return {kind: tuple(registry.names(kind)) for _, kind, _ in _COMPONENT_OPTIONS}
    except Exception:  # noqa: BLE001 - help text must not stop the command; run() reports plugin errors
        return {}


def _add_component_option(p: argparse.ArgumentParser, option: str, names: tuple[str, ...], what: str) -> None:
    """``--OPTION NAME`` whose help and choices come from the plugin registry (so they never go stale)."""
    from mia_core.engine.config import TrainConfig

    default = getattr(TrainConfig(), _OPTIONS[option])
    listed = ", ".join(f"{n} (default)" if n == default else n for n in names) or "none installed"
    p.add_argument(f"--{option}", metavar="NAME", choices=names or None, help=f"{what}: {listed}")


def register(subparsers: Any) -> None:
    """Add the ``train`` sub-command."""
    p = subparsers.add_parser(
        "train",
        help="train a segmentation model on labelled images",
        description="Train a semantic segmentation network on the labelled images of FOLDER and "
        "save it (config.json + weights.msgpack) in --out.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("folder", metavar="FOLDER", help="folder of images with label files")
    p.add_argument("--out", required=True, metavar="MODEL_DIR", help="folder the model is saved in")
    installed = _installed_names()
    for option, kind, what in _COMPONENT_OPTIONS:
        _add_component_option(p, option, installed.get(kind, ()), what)
    p.add_argument("--weights", metavar="NAME", help="start the encoder from pretrained weights, e.g. imagenet "
                   "(fetch them first: mia weights list / fetch)")
    p.add_argument("--epochs", type=int, metavar="N", help="number of epochs (default 30)")
    p.add_argument("--steps", type=int, metavar="N", help="training steps per epoch (default 50)")
    p.add_argument("--batch", type=int, metavar="B", help="patches per step (default 4)")
    p.add_argument("--patch", type=int, metavar="P", help="patch side in pixels, a multiple of 32 (default 128)")
    p.add_argument("--lr", type=float, metavar="RATE", help="learning rate (default 1e-3)")
    p.add_argument("--optimizer", metavar="NAME", help="adam (default), adamw, sgd-nesterov")
    p.add_argument("--schedule", metavar="NAME", help="step (default: x0.3 every 6 epochs), cosine (annealed over "
                   "the epochs that fit the time budget), constant, reduce-on-plateau")
    p.add_argument("--val", metavar="FOLDER", help="validation folder (default: hold out --val-fraction of the images)")
    p.add_argument("--val-fraction", type=float, metavar="F", help="share of images held out (default 0.2)")
    p.add_argument("--class-weights", metavar="MODE", help="none (default), inverse-frequency, manual")
    p.add_argument("--early-stop", type=int, metavar="N", help="stop after N epochs without improvement (0 = never)")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (default 0)")
    p.add_argument("--time", type=parse_duration, metavar="DURATION",
                   help="time budget, e.g. 10m, 90s, 1h (default 5m; 0 = none): epochs run while the next one "
                   f"fits in it (up to --epochs, default {BUDGET_EPOCHS} with --time, else 30); the best epoch "
                   "is kept")
    p.add_argument("--config", metavar="FILE", help="JSON file of settings")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="any other setting (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar, only the final summary")
    cli.add_disable_option(p)
    p.set_defaults(func=run)


#: The epoch limit when --time is given without --epochs: the budget decides.
BUDGET_EPOCHS = 1000


def parse_duration(text: str) -> float:
    """argparse type: '10m', '90s', '1.5h' or plain seconds, as seconds."""
    if text.strip().lower() in ("0", "none"):
        return 0.0  # no limit
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    body, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1.0)
    try:
        seconds = float(body) * unit
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 10m, 90s or 1h")
    return seconds


def build_config(args: argparse.Namespace) -> Any:
    """The TrainConfig of this command: saved/file/default settings, then the given options."""
    from mia_core.engine.checkpoint import resume_config
    from mia_core.engine.config import ConfigError, TrainConfig, load_config_file, parse_setting

    if args.resume:
        config = resume_config(args.out)
    elif args.config:
        config = load_config_file(args.config)
    else:
        config = TrainConfig()
    for option, setting in _OPTIONS.items():
        value = getattr(args, option)
        if value is not None:
            if option == "val":  # saved with the model: must not depend on the working directory
                value = str(Path(value).expanduser().resolve())
            config = config.replace(**{setting: value})
    if getattr(args, "time", None) is not None:
        config = config.replace(time_budget=args.time)
        if args.time and args.epochs is None and not args.resume:
            config = config.replace(epochs=max(config.epochs, BUDGET_EPOCHS))
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--set takes NAME=VALUE, got {item!r}")
        config = parse_setting(config, key.strip(), text.strip())
    config.validate()
    return config


def run(args: argparse.Namespace, err: TextIO | None = None) -> int:
    """Train; 0 when a model was saved, 2 for bad settings or data, 1 when training failed."""
    err = err or sys.stderr
    from mia_core.cli import disabled_plugins
    from mia_core.engine.checkpoint import ModelLoadError
    from mia_core.engine.config import ConfigError
    from mia_core.engine.dataset import TrainingDataError
    from mia_core.engine.train import TrainingError, train_folder
    from mia_core.plugins import load_plugins

    try:
        config = build_config(args)
    except (ConfigError, ModelLoadError) as exc:
        print(f"mia train: {exc}", file=err)
        return 2
    stop = threading.Event()
    bar = TextProgress(err, quiet=args.quiet)
    previous = _stop_on_interrupt(stop, err, Path(args.out))
    try:
        result = train_folder(
            args.folder, config, args.out, registry=load_plugins(disabled=disabled_plugins(args)),
            progress=bar, stop=stop, resume=args.resume, overwrite=args.overwrite,
            on_data=lambda data: _print_summary(data, config, err),
        )
    except (ConfigError, TrainingDataError, ModelLoadError) as exc:
        bar.finish()
        print(f"mia train: {exc}", file=err)
        return 2
    except TrainingError as exc:
        bar.finish()
        print(f"mia train: {exc}", file=err)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    bar.finish()
    best = "n/a" if result.best_metric is None else f"{result.best_metric:.4f}"
    why = {"completed": "finished", "early-stopping": "stopped early (no improvement)",
           "stopped": "stopped by the user",
           "time-budget": "stopped: the next epoch would pass the --time budget; kept the best epoch",
           "nan": "stopped: the loss became NaN; kept the last good checkpoint"}
    print(f"mia train: {why.get(result.reason, result.reason)} after {result.epochs_done} epoch(s), "
          f"best {result.info.metric or 'metric'} {best} (epoch {result.best_epoch}); model saved in {result.model_dir}",
          file=err)
    return 1 if result.reason == "nan" else 0


def _print_summary(data: Any, config: Any, err: TextIO) -> None:
    """The data summary and its warnings, before the first step."""
    from mia_core.engine.data_summary import summarise

    from mia_core.engine.estimate import estimate

    summary = summarise(data, config)
    for line in summary.lines:
        print(f"mia train: {line}", file=err)
    print(f"mia train: {estimate(config).text}", file=err, flush=True)
    for warning in summary.warnings:
        print(f"mia train: WARNING: {warning}", file=err)


def _stop_on_interrupt(stop: threading.Event, err: TextIO, out: Path) -> Any:
    """First Ctrl+C asks the loop to stop and checkpoint; a second one ends the process at once
    (after a checkpoint write in progress), exit status 130, the last checkpoint kept."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            from mia_core.engine import interrupts

            message = (f"\nmia train: aborted; the last checkpoint in {out} is kept "
                       "(train again with --resume to continue from it)")
            if interrupts.abort(130, message):
                print("\nmia train: finishing the checkpoint being written, then aborting", file=err, flush=True)
            return
        stop.set()
        print("\nmia train: stopping after this step (Ctrl+C again to abort)", file=err)

    return signal.signal(signal.SIGINT, handler)


class TextProgress:
    """A one-line progress bar (epoch, step, loss, metric, ETA) redrawn on a terminal."""

    def __init__(self, stream: TextIO, quiet: bool = False, width: int = 20) -> None:
        self.stream = stream
        self.quiet = quiet
        self.width = width
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._open = False

    def __call__(self, p: Any) -> None:
        if self.quiet or p.phase == "done":
            return
        line = self.line(p)
        if p.phase == "epoch":
            self.stream.write(("\r" if self.tty else "") + line + "\n")
            self._open = False
        elif self.tty:
            self.stream.write("\r" + line)
            self._open = True
        self.stream.flush()

    def line(self, p: Any) -> str:
        """The text of one progress report."""
        filled = int(self.width * p.step / max(p.steps, 1))
        bar = "#" * filled + "-" * (self.width - filled)
        loss = "--" if p.loss is None else f"{p.loss:.4f}"
        metric = "--" if p.metric is None else f"{p.metric:.4f}"
        return (f"epoch {p.epoch}/{p.epochs} [{bar}] {p.step}/{p.steps} loss {loss} "
                f"{p.metric_name} {metric} lr {p.learning_rate:.1e} ETA {format_seconds(p.eta_s)}")

    def finish(self) -> None:
        """End an open progress line."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
