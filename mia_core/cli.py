"""The ``mia`` command: starts the app, or runs one of the sub-commands in :mod:`mia_core.commands`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

#: Sub-command modules; each defines ``register(subparsers)`` and sets ``func`` on its parser.
COMMAND_MODULES = (
    "mia_core.commands.app",
    "mia_core.commands.plugins",
    "mia_core.commands.labels",
    "mia_core.commands.train",
    "mia_core.commands.predict",
    "mia_core.commands.dextr",
    "mia_core.commands.weights",
    "mia_core.commands.export",
    "mia_core.commands.models",
    "mia_core.commands.evaluate",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="mia",
        usage="%(prog)s [-h] [--disable NAME] [FOLDER]\n       %(prog)s [--disable NAME] COMMAND ...",
        description="Label microscopy images and train semantic segmentation on them. "
        "With no sub-command, opens the app on FOLDER (or the last folder, or a sample folder).",
    )
    parser.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="NAME",
        help="do not load the plugin NAME (repeatable; MIA_DISABLE_PLUGINS=a,b does the same)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="mia")  # not the custom usage
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    parser.set_defaults(commands=tuple(sub.choices))
    return parser


def add_disable_option(parser: argparse.ArgumentParser) -> None:
    """Accept ``--disable NAME`` after a sub-command too (``mia FOLDER --disable NAME``)."""
    parser.add_argument(
        "--disable",
        dest="sub_disable",
        action="append",
        default=[],
        metavar="NAME",
        help="do not load the plugin NAME (same as the global --disable)",
    )


def disabled_plugins(args: argparse.Namespace) -> set[str]:
    """Plugin names blocked by ``--disable`` (before or after the sub-command) and ``MIA_DISABLE_PLUGINS``."""
    names = {n.strip() for n in os.environ.get("MIA_DISABLE_PLUGINS", "").split(",") if n.strip()}
    names.update(getattr(args, "disable", []))
    names.update(getattr(args, "sub_disable", []))
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mia`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known = set(parser.get_default("commands"))
    # ``mia FOLDER`` and plain ``mia`` start the app.
    if not any(a in known for a in argv if not a.startswith("-")) and "-h" not in argv and "--help" not in argv:
        argv = _insert_app(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


def _insert_app(argv: list[str]) -> list[str]:
    """Put the ``app`` sub-command after the global options so ``mia [--disable X] [FOLDER]`` works."""
    out: list[str] = []
    it = iter(argv)
    for a in it:
        if a == "--disable":
            out += [a, next(it, "")]
        elif a.startswith("--disable="):
            out.append(a)
        else:
            out.append("app")
            out.append(a)
            out.extend(it)
            return out
    return out + ["app"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
