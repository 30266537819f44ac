"""Plugin loading, fixed inbox order (P3) and the async-aware hook caller (P1, P2)."""

from __future__ import annotations

import pytest

import bridgekit
from bridgekit.cli import main
from bridgekit.exceptions import PluginError
from bridgekit.plugins import PluginHost
from tests.support import fake_channels
from tests.support.testchannel import TestChannelPlugin


def host_with(names: list[str]) -> PluginHost:
    host = PluginHost()
    host.load_modules(f"tests.support.fake_channels:{name}" for name in names)
    return host


@pytest.mark.parametrize("order", [fake_channels.ATTRS, list(reversed(fake_channels.ATTRS))])
def test_channels_come_in_the_fixed_inbox_order_whatever_the_registration_order(order: list[str]) -> None:
    assert list(host_with(order).channels) == fake_channels.IN_INBOX_ORDER


def test_bridgekit_plugins_prints_channels_in_inbox_order(tmp_path, capsys) -> None:
    config = tmp_path / "bridgekit.toml"
    modules = ", ".join(f'"tests.support.fake_channels:{a}"' for a in reversed(fake_channels.ATTRS))
    config.write_text(f"[plugins]\nenabled = []\nmodules = [{modules}]\n")
    assert main(["plugins", "--config", str(config)]) == 0
    printed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert printed == fake_channels.IN_INBOX_ORDER


def test_enabling_a_plugin_that_is_not_installed_is_a_clear_error() -> None:
    host = PluginHost()
    with pytest.raises(PluginError, match="not installed: no-such-plugin"):
        host.load_entry_points(["no-such-plugin"])


def test_two_plugins_cannot_declare_the_same_channel() -> None:
    host = PluginHost()
    host.register(TestChannelPlugin("same"), "one")
    host.register(TestChannelPlugin("same"), "two")
    with pytest.raises(PluginError, match="declared by both"):
        _ = host.channels


class Recorder:
    def __init__(self, name: str, log: list[str], result: object = None) -> None:
        self.name, self.log, self.result = name, log, result

    @bridgekit.hookimpl
    def bridgekit_routes(self, bridge: object) -> object:
        self.log.append(self.name)
        return self.result


class AsyncRecorder(Recorder):
    @bridgekit.hookimpl
    async def bridgekit_routes(self, bridge: object) -> object:  # type: ignore[override]
        self.log.append(self.name)
        return self.result


class Tryfirst:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    @bridgekit.hookimpl(tryfirst=True)
    def bridgekit_routes(self, bridge: object) -> None:
        self.log.append("tryfirst")


async def test_async_implementations_are_awaited_in_pluggys_own_call_order() -> None:
    host = PluginHost()
    ours: list[str] = []
    host.register(Recorder("first-registered", ours, ["a"]), "p1")
    host.register(Tryfirst(ours), "p2")
    host.register(AsyncRecorder("last-registered", ours, ["c"]), "p3")
    results = await host.hooks.call_all("bridgekit_routes", bridge=None)
    assert results == [["c"], ["a"]]  # the coroutine was awaited, not returned

    pluggy_order: list[str] = []
    sync_host = PluginHost()
    sync_host.register(Recorder("first-registered", pluggy_order), "p1")
    sync_host.register(Tryfirst(pluggy_order), "p2")
    sync_host.register(Recorder("last-registered", pluggy_order), "p3")
    sync_host.pm.hook.bridgekit_routes(bridge=None)
    assert ours == pluggy_order == ["tryfirst", "last-registered", "first-registered"]


class Exploding:
    @bridgekit.hookimpl
    async def bridgekit_routes(self, bridge: object) -> None:
        raise RuntimeError("boom")


async def test_an_exception_in_one_plugin_is_isolated_logged_and_counted(caplog) -> None:
    host = PluginHost()
    log: list[str] = []
    host.register(Recorder("ok", log, ["x"]), "good")
    host.register(Exploding(), "bad")
    assert await host.hooks.call_all("bridgekit_routes", bridge=None) == [["x"]]
    assert host.hooks.errors[("bad", "bridgekit_routes")] == 1
    assert "plugin 'bad' raised in bridgekit_routes" in caplog.text
