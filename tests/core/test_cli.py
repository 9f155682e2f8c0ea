"""The ``mia`` command line: routing to the app, --disable anywhere, a start-up free of JAX and Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mia_core import cli


def test_start_up_imports_neither_jax_nor_qt() -> None:
    code = (
        "import sys\n"
        "from mia_core import cli\n"
        "cli.build_parser()\n"
        "assert cli.main(['plugins', '--json']) == 0\n"
        "heavy = sorted(m for m in ('jax', 'flax', 'optax', 'PyQt5', 'pyqtgraph') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["{folder}", "--disable", "draw"],
        ["--disable", "draw", "{folder}"],
        ["--disable", "draw", "app", "{folder}"],
        ["app", "{folder}", "--disable=draw"],
    ],
)
def test_folder_and_disable_in_any_order_reach_the_app(argv: list[str], tmp_path: Path, monkeypatch) -> None:
    seen = {}

    def fake_app(args) -> int:
        seen["folder"] = args.folder
        seen["disabled"] = cli.disabled_plugins(args)
        return 0

    monkeypatch.setattr("mia_core.commands.app.run", fake_app)
    monkeypatch.delenv("MIA_DISABLE_PLUGINS", raising=False)
    assert cli.main([a.format(folder=tmp_path) for a in argv]) == 0
    assert seen == {"folder": tmp_path, "disabled": {"draw"}}


def test_plain_mia_starts_the_app_with_no_folder(monkeypatch) -> None:
    seen = {}
    monkeypatch.setattr("mia_core.commands.app.run", lambda args: seen.setdefault("folder", args.folder) or 0)
    assert cli.main([]) == 0
    assert seen == {"folder": None}


def test_environment_and_flags_combine(monkeypatch) -> None:
    monkeypatch.setenv("MIA_DISABLE_PLUGINS", "a, b,")
    args = cli.build_parser().parse_args(["--disable", "c", "plugins", "--disable", "d"])
    assert cli.disabled_plugins(args) == {"a", "b", "c", "d"}


def test_unknown_command_line_option_is_an_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["plugins", "--no-such-option"])
    assert info.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err
