"""The plugin manager: loading, per-plugin isolation, validation, disabling, the registry and CLI."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Callable

import pytest

from mia_core.plugins import (
    DISABLED,
    FAILED,
    LOADED,
    PluginRecord,
    UnknownComponentError,
    load_plugins,
)

TOOL_CLASS = """
from mia_core.hooks import hookimpl
from mia_core.tool_base import BaseTool

class Tool(BaseTool):
    def __init__(self, name):
        super().__init__()
        self.name = name
        self.label = name
"""

EXPORTER_CLASS = """
class Exporter:
    label = "rows"
    def __init__(self, name):
        self.name = name
    def measure(self, labels, image):
        return [{"n": len(labels.contours)}]
"""


def tool_plugin(*tool_names: str) -> str:
    """Source of a plugin module offering tools with the given names (kept in ``INSTANCES``)."""
    return TOOL_CLASS + textwrap.dedent(
        f"""
        INSTANCES = [Tool(n) for n in {list(tool_names)!r}]

        @hookimpl
        def mia_tools():
            return INSTANCES
        """
    )


MakePlugin = Callable[[str, str], importlib.metadata.EntryPoint]


@pytest.fixture
def make_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a plugin module into tmp_path and return an entry point named ``name`` for it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    created: list[str] = []

    def make(name: str, source: str) -> importlib.metadata.EntryPoint:
        module = f"miatest_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        created.append(module)
        return importlib.metadata.EntryPoint(name=name, value=module, group="mia")

    yield make
    for module in created:
        sys.modules.pop(module, None)


# --- loading and the registry ---------------------------------------------------------------


def test_components_are_registered_as_returned(make_plugin: MakePlugin) -> None:
    eps = [
        make_plugin("alpha", tool_plugin("a1", "a2")),
        make_plugin(
            "beta",
            EXPORTER_CLASS
            + """
from mia_core.hooks import hookimpl
INSTANCE = Exporter("rows")
@hookimpl
def mia_exporters():
    return [INSTANCE]
""",
        ),
    ]
    reg = load_plugins(disabled=(), entry_points=eps)
    alpha = sys.modules[eps[0].value]
    beta = sys.modules[eps[1].value]
    assert reg.names("tools") == ["a1", "a2"]
    assert reg.names("exporters") == ["rows"]
    # the very instances the plugin returned are kept (not copies, not re-created)
    assert reg.get("tools", "a2") is alpha.INSTANCES[1]
    assert reg.components("exporters") == [beta.INSTANCE]
    assert reg.plugin_of("tools", "a1") == "alpha"
    assert reg.records == [
        PluginRecord("alpha", None, eps[0].value, ["mia_tools"], {"tools": ["a1", "a2"]}, LOADED, None),
        PluginRecord("beta", None, eps[1].value, ["mia_exporters"], {"exporters": ["rows"]}, LOADED, None),
    ]
    assert reg.failures == []
    assert reg.names("losses") == []


def test_unknown_component_error_lists_available(make_plugin: MakePlugin) -> None:
    reg = load_plugins(disabled=(), entry_points=[make_plugin("alpha", tool_plugin("draw", "poly"))])
    with pytest.raises(KeyError) as info:
        reg.get("tools", "brush")
    assert isinstance(info.value, UnknownComponentError)
    assert str(info.value) == "unknown tools component 'brush'; available: draw, poly"
    with pytest.raises(UnknownComponentError, match="available: none"):
        reg.get("losses", "dice")
    with pytest.raises(UnknownComponentError, match="unknown component kind 'toolz'.*tools"):
        reg.names("toolz")


def test_version_comes_from_the_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_distribution(tmp_path, "fake-versioned", "2.5.1", "versioned", "miatest_versioned", tool_plugin("v"))
    monkeypatch.syspath_prepend(str(root))
    eps = [ep for dist in importlib.metadata.distributions(path=[str(root)]) for ep in dist.entry_points]
    try:
        reg = load_plugins(disabled=(), entry_points=eps)
    finally:
        sys.modules.pop("miatest_versioned", None)
    (rec,) = reg.records
    assert (rec.name, rec.version, rec.module, rec.status) == ("versioned", "2.5.1", "miatest_versioned", LOADED)


# --- isolation of broken plugins ------------------------------------------------------------


def test_plugin_raising_on_import_is_isolated(make_plugin: MakePlugin) -> None:
    eps = [
        make_plugin("before", tool_plugin("t1")),
        make_plugin("broken", "import os\nraise RuntimeError('cannot start: missing driver')\n"),
        make_plugin("after", tool_plugin("t2")),
    ]
    reg = load_plugins(disabled=(), entry_points=eps)
    assert reg.names("tools") == ["t1", "t2"]
    assert [r.status for r in reg.records] == [LOADED, FAILED, LOADED]
    (failure,) = reg.failures
    assert failure.name == "broken"
    assert "Traceback (most recent call last)" in failure.error
    assert f"{eps[1].value}.py" in failure.error  # the frame in the plugin's own file
    assert failure.error_summary == "RuntimeError: cannot start: missing driver"
    assert not reg.manager.has_plugin("broken")


def test_plugin_whose_hook_raises_is_isolated(make_plugin: MakePlugin) -> None:
    source = TOOL_CLASS + "\n@hookimpl\ndef mia_tools():\n    return [Tool('x'), 1 / 0]\n"
    eps = [make_plugin("raiser", source), make_plugin("fine", tool_plugin("y"))]
    reg = load_plugins(disabled=(), entry_points=eps)
    assert reg.names("tools") == ["y"]
    rec = reg.record("raiser")
    assert rec.status == FAILED and rec.components == {}
    assert "ZeroDivisionError" in rec.error_summary and "plugin 'raiser'" in rec.error
    assert not reg.manager.has_plugin("raiser")


def test_unknown_hook_is_rejected_and_does_not_poison_later_plugins(make_plugin: MakePlugin) -> None:
    source = TOOL_CLASS + "\n@hookimpl\ndef mia_toolz():\n    return [Tool('typo')]\n"
    eps = [make_plugin("typo", source), make_plugin("fine", tool_plugin("ok"))]
    reg = load_plugins(disabled=(), entry_points=eps)
    typo, fine = reg.records
    assert typo.status == FAILED
    assert "plugin 'typo'" in typo.error and "mia_toolz" in typo.error and "mia_tools" in typo.error
    assert not reg.manager.has_plugin("typo")
    # check_pending is global: the rejected plugin's impls must be gone for the next one to pass
    assert fine.status == LOADED and reg.names("tools") == ["ok"]


def test_duplicate_component_name_rejects_the_later_plugin_whole(make_plugin: MakePlugin) -> None:
    second = (
        tool_plugin("shared")
        + EXPORTER_CLASS
        + "\n@hookimpl\ndef mia_exporters():\n    return [Exporter('only_in_second')]\n"
    )
    eps = [make_plugin("first", tool_plugin("shared")), make_plugin("second", second)]
    reg = load_plugins(disabled=(), entry_points=eps)
    first_module = sys.modules[eps[0].value]
    assert reg.get("tools", "shared") is first_module.INSTANCES[0]
    rec = reg.record("second")
    assert rec.status == FAILED
    assert rec.error == "plugin 'second': tools component 'shared' is already provided by plugin 'first'"
    # nothing of a rejected plugin is registered, not even its valid components
    assert reg.names("exporters") == []
    assert not reg.manager.has_plugin("second")


def test_duplicate_name_within_one_plugin_is_rejected(make_plugin: MakePlugin) -> None:
    reg = load_plugins(disabled=(), entry_points=[make_plugin("twice", tool_plugin("same", "same"))])
    (rec,) = reg.failures
    assert "plugin 'twice'" in rec.error and "two tools components named 'same'" in rec.error
    assert reg.names("tools") == []


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        ("'stamp'", "mia_tools returned str, expected a list of tools components"),
        ("None", "mia_tools returned NoneType, expected a list"),
        ("[object()]", "has no string 'name'"),
        ("[type('T', (), {'name': 'half', 'label': 'x'})()]", "tools component 'half' lacks"),
        (
            "[type('T', (__import__('mia_core.tool_base').tool_base.BaseTool,), {'name': 'odd', 'press': 1})()]",
            "tools component 'odd': press must be callable",
        ),
    ],
)
def test_wrong_return_values_are_rejected(make_plugin: MakePlugin, returned: str, expected: str) -> None:
    source = f"from mia_core.hooks import hookimpl\n@hookimpl\ndef mia_tools():\n    return {returned}\n"
    eps = [make_plugin("wrong", source), make_plugin("fine", tool_plugin("ok"))]
    reg = load_plugins(disabled=(), entry_points=eps)
    wrong = reg.record("wrong")
    assert wrong.status == FAILED
    assert wrong.error.startswith("plugin 'wrong': ") and expected in wrong.error
    assert reg.names("tools") == ["ok"]


def test_same_plugin_name_twice_keeps_the_first(make_plugin: MakePlugin) -> None:
    eps = [make_plugin("dup", tool_plugin("one")), make_plugin("dup", tool_plugin("two"))]
    reg = load_plugins(disabled=(), entry_points=eps)
    assert [r.status for r in reg.records] == [LOADED, FAILED]
    assert "already used" in reg.records[1].error
    assert reg.names("tools") == ["one"]


# --- disabling ------------------------------------------------------------------------------


def test_disabled_plugins_are_not_even_imported(make_plugin: MakePlugin) -> None:
    eps = [make_plugin("bomb", "raise SystemExit('imported!')\n"), make_plugin("fine", tool_plugin("ok"))]
    reg = load_plugins(disabled={"bomb"}, entry_points=eps)
    assert [(r.name, r.status, r.error) for r in reg.records] == [("bomb", DISABLED, None), ("fine", LOADED, None)]
    assert eps[0].value not in sys.modules
    assert reg.failures == []


def test_environment_variable_disables_when_no_list_is_given(
    make_plugin: MakePlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    eps = [make_plugin(n, tool_plugin(f"tool_{n}")) for n in ("a", "b", "c")]
    monkeypatch.setenv("MIA_DISABLE_PLUGINS", " a, b ,")
    reg = load_plugins(entry_points=eps)
    assert [r.status for r in reg.records] == [DISABLED, DISABLED, LOADED]
    assert reg.names("tools") == ["tool_c"]
    # an explicit list (the CLI merges flag and variable itself) takes precedence
    reg = load_plugins(disabled=(), entry_points=eps)
    assert reg.names("tools") == ["tool_a", "tool_b", "tool_c"]


# --- the command line, with installed (fake) distributions ----------------------------------


def make_distribution(root: Path, dist: str, version: str, ep_name: str, module: str, source: str) -> Path:
    """A minimal installed distribution in ``root``: a dist-info with a ``mia`` entry point, and its module."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[mia]\n{ep_name} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def fake_site(tmp_path: Path) -> Path:
    """A folder holding a working plugin ``good`` and one ``broken`` that raises on import."""
    root = tmp_path / "site"
    make_distribution(root, "fake-good", "1.2.0", "good", "miatest_good", tool_plugin("good_tool"))
    make_distribution(
        root, "fake-broken", "0.0.1", "broken", "miatest_broken", "raise ImportError('needs libfoo 3')\n"
    )
    return root


def builtin_plugin_names() -> list[str]:
    """The plugins installed in this environment (the built-ins), visible to this process."""
    return [ep.name for ep in importlib.metadata.entry_points(group="mia")]


def run_mia(args: list[str], site: Path, disable_env: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``mia ARGS`` in a fresh interpreter with ``site`` on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("MIA_DISABLE_PLUGINS", None)
    if disable_env is not None:
        env["MIA_DISABLE_PLUGINS"] = disable_env
    return subprocess.run(
        [sys.executable, "-m", "mia_core.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def records_by_name(proc: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    """Parse ``mia plugins --json`` output."""
    assert proc.returncode == 0, proc.stderr
    return {r["name"]: r for r in json.loads(proc.stdout)}


def test_cli_lists_a_broken_plugin_and_keeps_the_rest(fake_site: Path) -> None:
    records = records_by_name(run_mia(["plugins", "--json"], fake_site))
    good, broken = records["good"], records["broken"]
    assert good == {
        "name": "good",
        "version": "1.2.0",
        "module": "miatest_good",
        "hooks": ["mia_tools"],
        "components": {"tools": ["good_tool"]},
        "status": "loaded",
        "error": None,
    }
    assert broken["status"] == "failed" and broken["version"] == "0.0.1"
    assert "Traceback (most recent call last)" in broken["error"]
    assert broken["error"].rstrip().endswith("ImportError: needs libfoo 3")
    # the built-in plugins are listed too, whatever their state
    assert set(builtin_plugin_names()) <= set(records)

    text = run_mia(["plugins"], fake_site)
    assert text.returncode == 0
    broken_line = next(line for line in text.stdout.splitlines() if line.startswith("broken "))
    assert "[failed]" in broken_line and "0.0.1" in broken_line
    assert "error: ImportError: needs libfoo 3" in text.stdout
    assert "Traceback" not in text.stdout
    assert "Traceback (most recent call last)" in run_mia(["plugins", "--verbose"], fake_site).stdout


def test_cli_strict_fails_only_when_a_plugin_failed(fake_site: Path) -> None:
    builtins = builtin_plugin_names()
    only_fakes = run_mia(["plugins", "--strict"], fake_site, disable_env=",".join(builtins))
    assert only_fakes.returncode == 1
    assert "good 1.2.0  [loaded]" in only_fakes.stdout
    without_broken = run_mia(["plugins", "--strict"], fake_site, disable_env=",".join([*builtins, "broken"]))
    assert without_broken.returncode == 0, without_broken.stdout
    assert "broken 0.0.1  [disabled]" in without_broken.stdout


def test_cli_disable_flag_and_environment_variable(fake_site: Path) -> None:
    flag = records_by_name(run_mia(["--disable", "good", "plugins", "--json"], fake_site))
    assert flag["good"]["status"] == "disabled" and flag["good"]["components"] == {}
    assert flag["broken"]["status"] == "failed"
    after = records_by_name(run_mia(["plugins", "--disable", "broken", "--json"], fake_site))
    assert after["broken"]["status"] == "disabled" and after["good"]["status"] == "loaded"
    env = records_by_name(run_mia(["plugins", "--json"], fake_site, disable_env="good,broken"))
    assert env["good"]["status"] == env["broken"]["status"] == "disabled"


def test_loading_imports_neither_jax_nor_qt(fake_site: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        from mia_core.plugins import load_plugins
        reg = load_plugins()
        heavy = sorted(m for m in ("jax", "flax", "optax", "PyQt5") if m in sys.modules)
        print(json.dumps({"plugins": [r.name for r in reg.records], "heavy": heavy}))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(fake_site))
    env.pop("MIA_DISABLE_PLUGINS", None)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "good" in out["plugins"] and set(builtin_plugin_names()) <= set(out["plugins"])
    assert out["heavy"] == []


def test_builtin_plugins_load_before_third_party_ones(fake_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(fake_site))  # third-party entry points are now discovered first
    discovered = [ep.name for ep in importlib.metadata.entry_points(group="mia")]
    builtins = [n for n in discovered if n not in ("good", "broken")]
    assert discovered.index("good") < discovered.index(builtins[0])
    # everything disabled: only the order is looked at, nothing is imported
    reg = load_plugins(disabled=set(discovered))
    assert [r.name for r in reg.records] == builtins + [n for n in discovered if n in ("good", "broken")]
    assert {r.status for r in reg.records} == {DISABLED}
