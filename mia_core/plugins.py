"""The plugin manager: loads every ``mia`` entry point, isolates broken plugins, holds the registry.

We loop over the entry points ourselves instead of using pluggy's ``load_setuptools_entrypoints``,
which stops at the first plugin that fails to import.  Each plugin is imported, registered with a
:class:`pluggy.PluginManager` whose specs are :mod:`mia_core.hooks`, and validated (unknown hooks,
each hook called once, every returned component checked, names unique per kind).  A plugin that
fails any step is unregistered and recorded as failed with its traceback; every other plugin keeps
working.
"""

from __future__ import annotations

import importlib.metadata
import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

from mia_core import hooks
from mia_core.api import COMPONENT_KINDS, check_component

#: Environment variable holding comma-separated plugin names not to load.
DISABLE_ENV = "MIA_DISABLE_PLUGINS"
#: Entry-point group every plugin (built-in or third-party) registers in.
ENTRY_POINT_GROUP = "mia"
#: Distribution of the built-in plugins; they load first, so no third party can shadow them.
BUILTIN_DISTRIBUTION = "mia"

LOADED = "loaded"
FAILED = "failed"
DISABLED = "disabled"


class UnknownComponentError(KeyError):
    """A component (or kind) that no loaded plugin provides."""

    def __str__(self) -> str:
        # KeyError quotes its argument; show the message as written.
        return str(self.args[0]) if self.args else ""


class PluginRejected(Exception):
    """A plugin loaded but broke the plugin contract (the message names the plugin)."""


@dataclass
class PluginRecord:
    """What happened to one entry point: shown by ``mia plugins`` and the app's plugin errors."""

    name: str
    version: str | None
    module: str
    hooks: list[str] = field(default_factory=list)
    components: dict[str, list[str]] = field(default_factory=dict)
    status: str = LOADED
    error: str | None = None  # traceback text, or the reason for a rejection

    @property
    def error_summary(self) -> str | None:
        """The last non-empty line of ``error`` (the exception itself), for one-line listings."""
        if not self.error:
            return None
        lines = [line for line in self.error.strip().splitlines() if line.strip()]
        return lines[-1].strip() if lines else None


class Registry:
    """Every loaded component by kind and name, plus what happened to each plugin."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self.records: list[PluginRecord] = []
        self._components: dict[str, dict[str, Any]] = {kind: {} for kind in COMPONENT_KINDS}
        self._owner: dict[tuple[str, str], str] = {}

    @property
    def failures(self) -> list[PluginRecord]:
        """Plugins that could not be loaded, so the app can show why."""
        return [r for r in self.records if r.status == FAILED]

    def get(self, kind: str, name: str) -> Any:
        """The component ``name`` of ``kind``; the error lists what is available."""
        by_name = self._kind(kind)
        try:
            return by_name[name]
        except KeyError:
            available = ", ".join(by_name) or "none"
            raise UnknownComponentError(
                f"unknown {kind} component {name!r}; available: {available}"
            ) from None

    def names(self, kind: str) -> list[str]:
        """Names of the loaded components of ``kind``, in load order."""
        return list(self._kind(kind))

    def components(self, kind: str) -> list[Any]:
        """The loaded components of ``kind``, in load order."""
        return list(self._kind(kind).values())

    def plugin_of(self, kind: str, name: str) -> str:
        """Name of the plugin that provided a component (for messages and provenance)."""
        self.get(kind, name)
        return self._owner[(kind, name)]

    def record(self, name: str) -> PluginRecord:
        """The record of the plugin ``name``."""
        for r in self.records:
            if r.name == name:
                return r
        known = ", ".join(r.name for r in self.records) or "none"
        raise KeyError(f"no plugin named {name!r}; plugins: {known}")

    def _kind(self, kind: str) -> dict[str, Any]:
        """The name -> component map of ``kind``, with a clear error for an unknown kind."""
        try:
            return self._components[kind]
        except KeyError:
            raise UnknownComponentError(
                f"unknown component kind {kind!r}; kinds: {', '.join(self._components)}"
            ) from None

    def _add(self, plugin: str, found: dict[str, list[Any]]) -> None:
        """Commit a validated plugin's components."""
        for kind, items in found.items():
            for component in items:
                self._components[kind][component.name] = component
                self._owner[(kind, component.name)] = plugin


def make_manager() -> pluggy.PluginManager:
    """A plugin manager that knows mia's hook specifications."""
    pm = pluggy.PluginManager(hooks.PROJECT)
    pm.add_hookspecs(hooks)
    return pm


def disabled_from_env() -> set[str]:
    """Plugin names listed in ``MIA_DISABLE_PLUGINS`` (comma-separated)."""
    raw = os.environ.get(DISABLE_ENV, "")
    return {n.strip() for n in raw.split(",") if n.strip()}


def load_plugins(
    disabled: Iterable[str] | None = None,
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> Registry:
    """Load every plugin, skipping disabled ones and recording (not raising) each failure.

    ``disabled`` defaults to ``MIA_DISABLE_PLUGINS``; ``entry_points`` defaults to the installed
    ``mia`` group (tests pass their own).
    """
    blocked = disabled_from_env() if disabled is None else set(disabled)
    eps = _discover() if entry_points is None else list(entry_points)
    registry = Registry(make_manager())
    for ep in eps:
        registry.records.append(_load_one(registry, ep, blocked))
    return registry


def _discover() -> list[importlib.metadata.EntryPoint]:
    """Installed ``mia`` entry points, built-ins first, otherwise in discovery order."""
    eps = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    return sorted(eps, key=lambda ep: _dist_name(ep) != BUILTIN_DISTRIBUTION)


def _dist_name(ep: importlib.metadata.EntryPoint) -> str | None:
    """Name of the distribution that declared ``ep`` (None for hand-made entry points)."""
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else None


def _version(ep: importlib.metadata.EntryPoint) -> str | None:
    """Version of the distribution that declared ``ep``."""
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else None


def _load_one(registry: Registry, ep: importlib.metadata.EntryPoint, blocked: set[str]) -> PluginRecord:
    """Import, register and validate one entry point; failures become a failed record."""
    record = PluginRecord(name=ep.name, version=_version(ep), module=ep.value)
    if ep.name in blocked:
        record.status = DISABLED
        return record
    pm = registry.manager
    plugin: Any = None
    try:
        if pm.has_plugin(ep.name):
            raise PluginRejected(
                f"plugin {ep.name!r} ({ep.value}): the name is already used by another plugin"
            )
        plugin = ep.load()
        pm.register(plugin, name=ep.name)
        record.hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        _check_hooks_known(pm, ep.name)
        found = _collect(registry, pm, plugin, ep.name)
    except PluginRejected as exc:
        _unregister(pm, plugin)
        record.status, record.error = FAILED, str(exc)
        return record
    except BaseException as exc:  # a plugin may raise anything, SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        _unregister(pm, plugin)
        record.status, record.error = FAILED, _describe(ep.name, exc)
        return record
    registry._add(ep.name, found)
    record.components = {kind: [c.name for c in items] for kind, items in found.items() if items}
    return record


def _describe(name: str, exc: BaseException) -> str:
    """Full traceback text, headed by the plugin it came from."""
    text = "".join(traceback.format_exception(exc))
    return f"plugin {name!r} failed:\n{text}"


def _unregister(pm: pluggy.PluginManager, plugin: Any) -> None:
    """Take a plugin out of the manager again, if it got in."""
    if plugin is not None and pm.is_registered(plugin):
        pm.unregister(plugin)


def _check_hooks_known(pm: pluggy.PluginManager, name: str) -> None:
    """Reject a plugin implementing a hook mia does not define (a typo would silently do nothing)."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        specs = (n for n, h in vars(pm.hook).items() if not n.startswith("_") and h.has_spec())
        known = ", ".join(sorted(specs))
        raise PluginRejected(f"plugin {name!r}: {exc}; mia's hooks are: {known}") from None


def _collect(registry: Registry, pm: pluggy.PluginManager, plugin: Any, name: str) -> dict[str, list[Any]]:
    """Call each of the plugin's hooks once and check every component it returns."""
    found: dict[str, list[Any]] = {}
    for caller in pm.get_hookcallers(plugin) or []:
        kind = caller.name.removeprefix(f"{hooks.PROJECT}_")
        if kind not in COMPONENT_KINDS:
            continue
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            if impl.hookwrapper or impl.wrapper:
                raise PluginRejected(f"plugin {name!r}: {caller.name} must not be a hook wrapper")
            earlier = found.setdefault(kind, [])
            earlier.extend(_check_result(registry, name, caller.name, kind, impl.function(), earlier))
    return found


def _check_result(
    registry: Registry, name: str, hook: str, kind: str, result: Any, earlier: list[Any]
) -> list[Any]:
    """Validate one hook's return value: a list of valid, uniquely named ``kind`` components."""
    if not isinstance(result, (list, tuple)):
        raise PluginRejected(
            f"plugin {name!r}: {hook} returned {type(result).__name__}, expected a list of {kind} components"
        )
    seen = {c.name for c in earlier}
    for component in result:
        problem = check_component(kind, component)
        if problem:
            raise PluginRejected(f"plugin {name!r}: {hook}: {problem}")
        cname = component.name
        if cname in seen:
            raise PluginRejected(f"plugin {name!r}: {hook} returns two {kind} components named {cname!r}")
        if cname in registry._components[kind]:
            owner = registry._owner[(kind, cname)]
            raise PluginRejected(
                f"plugin {name!r}: {kind} component {cname!r} is already provided by plugin {owner!r}"
            )
        seen.add(cname)
    return list(result)
