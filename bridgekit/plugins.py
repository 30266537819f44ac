"""Plugin loading, the fixed channel order, and an async-aware hook caller.

pluggy is synchronous, and a ``firstresult`` hook would take an un-awaited coroutine as its
result. :class:`HookCaller` therefore walks ``hook.get_hookimpls()`` in pluggy's own call
order (last registered first, ``tryfirst``/``trylast`` honoured) and awaits coroutine
results itself. Every implementation call is isolated: an exception is logged with the
plugin's name and counted, and the walk goes on.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import pluggy

from bridgekit import hookspecs
from bridgekit.config import IntegrationConfig
from bridgekit.exceptions import ConfigError, PluginError
from bridgekit.flow import FLOW_HOOKS
from bridgekit.model import ChannelSpec, Integration

log = logging.getLogger("bridgekit.plugins")

ENTRY_POINT_GROUP = "bridgekit"


@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    name: str
    version: str | None
    plugin: object


@dataclass(frozen=True, slots=True)
class _OwnedImpl:
    """One plugin's implementation of a channel hook, ready to call on the hot path."""

    function: Callable[..., Any]
    argnames: tuple[str, ...]
    is_async: bool


@dataclass(frozen=True, slots=True)
class LoadedChannel:
    spec: ChannelSpec
    plugin_name: str
    plugin: object
    version: str | None


class HookCaller:
    """Calls hooks of a :class:`pluggy.PluginManager`, awaiting async implementations."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.errors: Counter[tuple[str, str]] = Counter()
        # Looked up on every webhook; PluginHost.register clears it.
        self._impls: dict[str, list[pluggy.HookImpl]] = {}
        self._owned: dict[tuple[str, int], _OwnedImpl | None] = {}

    def invalidate(self) -> None:
        """Forget cached implementations (a plugin was registered)."""
        self._impls.clear()
        self._owned.clear()

    def implementations(self, hook_name: str) -> list[pluggy.HookImpl]:
        """The implementations of ``hook_name`` in the order pluggy would call them."""
        impls = self._impls.get(hook_name)
        if impls is None:
            hook = getattr(self.pm.hook, hook_name)
            impls = [i for i in reversed(hook.get_hookimpls()) if not i.hookwrapper and not i.wrapper]
            self._impls[hook_name] = impls
        return impls

    def listened_flow_kinds(self) -> frozenset[str]:
        """Flow event kinds some plugin implements a hook for; others need no queue row."""
        return frozenset(kind for kind, hook in FLOW_HOOKS.items() if self.implementations(hook))

    async def _invoke(self, impl: pluggy.HookImpl, hook_name: str, kwargs: dict[str, Any]) -> Any:
        args = {name: kwargs[name] for name in impl.argnames}
        result = impl.function(**args)
        if inspect.isawaitable(result):
            result = await result
        return result

    def _record_error(self, impl: pluggy.HookImpl, hook_name: str) -> None:
        self.errors[(impl.plugin_name, hook_name)] += 1
        log.exception("plugin %r raised in %s", impl.plugin_name, hook_name)

    async def call_all(self, hook_name: str, /, **kwargs: Any) -> list[Any]:
        """Call every implementation; exceptions are isolated. Returns non-None results."""
        results = []
        for impl in self.implementations(hook_name):
            try:
                result = await self._invoke(impl, hook_name, kwargs)
            except Exception:
                self._record_error(impl, hook_name)
                continue
            if result is not None:
                results.append(result)
        return results

    async def call_first(self, hook_name: str, /, **kwargs: Any) -> Any:
        """Call implementations in order until one returns something other than None; its
        exceptions propagate (the caller's business, like a refused text)."""
        for impl in self.implementations(hook_name):
            result = await self._invoke(impl, hook_name, kwargs)
            if result is not None:
                return result
        return None

    async def call_flow(self, hook_name: str, event: Any) -> None:
        """Call a flow hook on every plugin until one calls ``event.stop()``."""
        for impl in self.implementations(hook_name):
            event.current_plugin = impl.plugin_name
            try:
                await self._invoke(impl, hook_name, {"event": event})
            except Exception:
                self._record_error(impl, hook_name)
            if event.stopped:
                break
        event.current_plugin = ""

    async def call_owner(self, hook_name: str, owner: object, /, **kwargs: Any) -> Any:
        """Call the implementation of ``hook_name`` that belongs to ``owner``, if any.

        Channel hooks go only to the plugin that declared the integration's channel.
        Exceptions propagate: the caller decides what a failure means for that hook
        (a rejected webhook, a retried send) and records it with :meth:`record_failure`.
        """
        key = (hook_name, id(owner))
        try:
            owned = self._owned[key]
        except KeyError:
            impl = next((i for i in self.implementations(hook_name) if i.plugin is owner), None)
            owned = self._owned[key] = None if impl is None else _owned_impl(impl)
        if owned is None:
            return None
        # Called on every webhook: no generic _invoke (one coroutine frame and an
        # isawaitable check fewer per call).
        # pluggy checked at registration that an implementation's arguments are a subset
        # of the spec's: as many means the same ones.
        args = kwargs if len(owned.argnames) == len(kwargs) else {n: kwargs[n] for n in owned.argnames}
        if owned.is_async:
            return await owned.function(**args)
        result = owned.function(**args)
        if inspect.isawaitable(result):
            result = await result
        return result

    def record_failure(self, plugin_name: str, hook_name: str) -> None:
        self.errors[(plugin_name, hook_name)] += 1


def _owned_impl(impl: pluggy.HookImpl) -> _OwnedImpl:
    return _OwnedImpl(impl.function, tuple(impl.argnames), inspect.iscoroutinefunction(impl.function))


class PluginHost:
    """Loads plugins and knows which plugin owns which channel."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("bridgekit")
        self.pm.add_hookspecs(hookspecs)
        self.hooks = HookCaller(self.pm)
        self.plugins: dict[str, LoadedPlugin] = {}
        self._channels: dict[str, LoadedChannel] | None = None

    def register(self, plugin: object, name: str, version: str | None = None) -> None:
        if name in self.plugins:
            raise PluginError(f"a plugin named {name!r} is already registered")
        self.pm.register(plugin, name=name)
        self.plugins[name] = LoadedPlugin(name, version, plugin)
        self._channels = None
        self.hooks.invalidate()

    def load_entry_points(self, enabled: Sequence[str] | None = None) -> None:
        """Register plugins from the ``bridgekit`` entry-point group.

        With ``enabled`` given, only those entry-point names are loaded; naming one that is
        not installed is an error, so a typo in the configuration does not go unnoticed.
        """
        found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        wanted = list(found) if enabled is None else list(enabled)
        missing = [name for name in wanted if name not in found]
        if missing:
            raise PluginError(
                f"enabled plugin(s) not installed: {', '.join(missing)}; "
                f"installed: {', '.join(sorted(found)) or 'none'}"
            )
        for name in wanted:
            ep = found[name]
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(f"plugin {name!r} failed to load: {exc}") from exc
            version = ep.dist.version if ep.dist is not None else None
            self.register(plugin, name, version)

    def load_modules(self, modules: Iterable[str]) -> None:
        """Register plugins by import path, like pytest's ``-p``.

        ``package.module`` registers the module itself; ``package.module:attr`` registers the
        object ``attr`` of that module (an instance with hook methods).
        """
        for dotted in modules:
            module_name, _, attr = dotted.partition(":")
            try:
                module = importlib.import_module(module_name)
                plugin = getattr(module, attr) if attr else module
            except (ImportError, AttributeError) as exc:
                raise PluginError(f"plugin {dotted!r} cannot be imported: {exc}") from exc
            self.register(plugin, dotted)

    @property
    def channels(self) -> dict[str, LoadedChannel]:
        """Declared channels by name, in the fixed inbox order."""
        if self._channels is None:
            self._channels = self._collect_channels()
        return self._channels

    def _collect_channels(self) -> dict[str, LoadedChannel]:
        collected: dict[str, LoadedChannel] = {}
        for impl in self.hooks.implementations("bridgekit_channels"):
            specs: Iterable[object] = impl.function() or ()  # type: ignore[assignment]
            for spec in specs:
                if not isinstance(spec, ChannelSpec):
                    raise PluginError(f"plugin {impl.plugin_name!r} declared {spec!r}, not a ChannelSpec")
                if spec.name in collected:
                    other = collected[spec.name].plugin_name
                    raise PluginError(
                        f"channel {spec.name!r} is declared by both {other!r} and {impl.plugin_name!r}"
                    )
                loaded = self.plugins.get(impl.plugin_name)
                collected[spec.name] = LoadedChannel(
                    spec, impl.plugin_name, impl.plugin, loaded.version if loaded else None
                )
        ordered = sorted(collected.values(), key=lambda ch: ch.spec.sort_key)
        return {ch.spec.name: ch for ch in ordered}

    def check_integrations(
        self, integrations: Iterable[IntegrationConfig], plugin_settings: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """Ask each integration's plugin whether its settings and secrets will work
        (``bridgekit_check_integration``), before anything is stored or served.

        A :class:`ConfigError` propagates as it is (one line for the operator); any other
        exception is the plugin's bug, reported as a :class:`PluginError`. An integration of a
        channel nobody provides is left to the integration registry, which says so.
        """
        for cfg in integrations:
            channel = self.channels.get(cfg.channel)
            if channel is None:
                continue
            impl = next(
                (
                    i
                    for i in self.hooks.implementations("bridgekit_check_integration")
                    if i.plugin is channel.plugin
                ),
                None,
            )
            if impl is None:
                continue
            # id 0: not stored yet; the check must not depend on it.
            integration = Integration(0, cfg.name, cfg.channel, cfg.settings, cfg.secrets)
            arguments = {
                "integration": integration,
                "plugin_settings": plugin_settings.get(channel.plugin_name, {}),
            }
            try:
                result = impl.function(**{name: arguments[name] for name in impl.argnames})
            except ConfigError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin {channel.plugin_name!r} failed checking integration {cfg.name!r}: {exc}"
                ) from exc
            if inspect.iscoroutine(result):
                result.close()
                raise PluginError(
                    f"plugin {channel.plugin_name!r}: bridgekit_check_integration must not be async "
                    "(it runs before the event loop)"
                )

    def channel(self, name: str) -> LoadedChannel:
        try:
            return self.channels[name]
        except KeyError:
            raise PluginError(
                f"no enabled plugin provides channel {name!r}; "
                f"available: {', '.join(self.channels) or 'none'}"
            ) from None
