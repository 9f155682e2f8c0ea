"""``mia plugins``: list every plugin with its version, hooks, components and status."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any, TextIO

from mia_core import cli
from mia_core import plugins as plugin_manager


def register(subparsers: Any) -> None:
    """Add the ``plugins`` sub-command."""
    parser = subparsers.add_parser(
        "plugins",
        help="list plugins, their components and load errors",
        description="List every plugin in the 'mia' entry-point group with its version, hooks, "
        "component names and status (loaded, failed, disabled).",
    )
    parser.add_argument("--json", action="store_true", help="print the records as a JSON list")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if any plugin failed")
    parser.add_argument("--verbose", "-v", action="store_true", help="print full tracebacks of failures")
    cli.add_disable_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Load the plugins and report on them; non-zero only for ``--strict`` with failures."""
    out = out or sys.stdout
    disabled = cli.disabled_plugins(args)
    registry = plugin_manager.load_plugins(disabled=disabled)
    unknown = sorted(disabled - {r.name for r in registry.records})
    if unknown:
        print(f"mia plugins: no plugin named {', '.join(unknown)} to disable", file=sys.stderr)
    if args.json:
        json.dump([asdict(r) for r in registry.records], out, indent=2)
        out.write("\n")
    else:
        out.write(format_records(registry.records, verbose=args.verbose))
    return 1 if args.strict and registry.failures else 0


def format_records(records: list[plugin_manager.PluginRecord], verbose: bool = False) -> str:
    """Human-readable listing: one block per plugin, failures with their error."""
    if not records:
        return f"no plugins found in the {plugin_manager.ENTRY_POINT_GROUP!r} entry-point group\n"
    lines: list[str] = []
    for r in records:
        lines.append(f"{r.name} {r.version or '(no version)'}  [{r.status}]  {r.module}")
        if r.hooks:
            lines.append(f"    hooks: {', '.join(r.hooks)}")
        for kind, names in r.components.items():
            lines.append(f"    {kind}: {', '.join(names)}")
        if r.error:
            if verbose:
                lines.extend("    " + line for line in r.error.rstrip().splitlines())
            else:
                lines.append(f"    error: {r.error_summary}  (--verbose for the traceback)")
    failed = sum(r.status == plugin_manager.FAILED for r in records)
    disabled = sum(r.status == plugin_manager.DISABLED for r in records)
    loaded = len(records) - failed - disabled
    lines.append(f"{len(records)} plugins: {loaded} loaded, {failed} failed, {disabled} disabled")
    return "\n".join(lines) + "\n"
