"""Who wrote: the LINE userId as a verified handle, named from the profile API (I17, E7)."""

from __future__ import annotations

from typing import Any

from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox

from bridgekit.model import CustomerEvent, InboundMessage, Integration


async def _first(
    plugin: LinePlugin, integration: Integration, line: LineSandbox, event: dict[str, Any]
) -> InboundMessage:
    return (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event]))).messages[0]


async def test_profile_display_name_names_the_customer(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina Tanaka")
    message = await _first(plugin, integration, line, line.webhooks.text(user, "hi"))
    profile = await plugin.bridgekit_identify_customer(integration, message)
    assert profile is not None
    assert profile.name == "Mina Tanaka"
    (contact,) = profile.contacts
    assert (contact.kind, contact.value, contact.name) == ("line", user, "Mina Tanaka")
    assert contact.verified is True
    assert contact.shared is False  # a userId means nothing outside this LINE channel
    assert [r.path for r in line.requests if "/profile/" in r.path] == [f"/v2/bot/profile/{user}"]


async def test_profile_is_cached_per_plugin_instance(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    for text in ("one", "two", "three"):
        message = await _first(plugin, integration, line, line.webhooks.text(user, text))
        profile = await plugin.bridgekit_identify_customer(integration, message)
        assert profile is not None
        assert profile.name == "Mina"
    assert len([r for r in line.requests if "/profile/" in r.path]) == 1


async def test_profile_failure_falls_back_to_no_name(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    """The profile API failing must not fail ingest: the customer is kept, unnamed."""
    user = line.add_user("Mina")
    line.fail_next(500, endpoint="profile")
    message = await _first(plugin, integration, line, line.webhooks.text(user, "hi"))
    profile = await plugin.bridgekit_identify_customer(integration, message)
    assert profile is not None
    assert profile.name is None
    assert profile.contacts[0].value == user


async def test_unknown_user_has_no_name(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    """A user who is not a friend (profile 404) is still identified by the userId."""
    message = await _first(plugin, integration, line, line.webhooks.text("U" + "9" * 32, "hi"))
    profile = await plugin.bridgekit_identify_customer(integration, message)
    assert profile is not None
    assert profile.name is None
    assert profile.contacts[0].value == "U" + "9" * 32


async def test_group_member_name_comes_from_the_member_profile(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Ken")
    group = "C" + "c" * 32
    message = await _first(plugin, integration, line, line.webhooks.text(user, "hi", group_id=group))
    profile = await plugin.bridgekit_identify_customer(integration, message)
    assert profile is not None
    assert profile.name == "Ken"
    assert [r.path for r in line.requests if "/member/" in r.path] == [f"/v2/bot/group/{group}/member/{user}"]


async def test_group_level_event_is_left_to_the_core(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    join = line.webhooks.event("join", None, group_id="C" + "d" * 32)
    (event,) = (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([join]))).events
    assert isinstance(event, CustomerEvent)
    # The core names an event's sender with a stand-in message, as for a message's sender.
    stand_in = InboundMessage(event.event_id, event.sender, event.thread_key, meta=event.data)
    assert await plugin.bridgekit_identify_customer(integration, stand_in) is None
