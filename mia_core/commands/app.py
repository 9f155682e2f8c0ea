"""``mia app [FOLDER]`` (also plain ``mia`` and ``mia FOLDER``): the labelling app."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mia_core import cli


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``app`` sub-command."""
    parser = subparsers.add_parser(
        "app",
        help="open the labelling app (the default command)",
        description="Open the labelling app on FOLDER; with no folder, the last folder, or a "
        "sample folder the app creates in the user data folder.",
    )
    parser.add_argument("folder", nargs="?", type=Path, help="folder of images to label")
    cli.add_disable_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the plugins and run the app."""
    folder: Path | None = args.folder
    if folder is not None and not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        print(f"mia: {folder} {what}", file=sys.stderr)
        return 2
    from mia_core.viewer.app import has_display, run_app

    if not has_display():
        print("mia: no display found (DISPLAY is not set); run it on a desktop, under "
              f"`xvfb-run -a {_launcher()}`, or with QT_QPA_PLATFORM=offscreen", file=sys.stderr)
        return 1
    from mia_core import cli
    from mia_core.plugins import load_plugins

    registry = load_plugins(disabled=cli.disabled_plugins(args))
    return run_app(folder, registry)


def _launcher() -> str:
    """The ``mia`` the user ran (e.g. .venv/bin/mia), so the xvfb-run hint works as typed."""
    argv0 = sys.argv[0] if sys.argv else ""
    return argv0 if Path(argv0).name == "mia" else "mia"
