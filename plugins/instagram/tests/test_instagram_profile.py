"""Who wrote: the customer's Instagram name and username, cached, never blocking ingest (E7)."""

from __future__ import annotations

import asyncio

from bridgekit_instagram.plugin import InstagramPlugin
from bridgekit_instagram.sandbox import MetaSandbox
from ig_helpers import integration_for, webhook

from bridgekit.model import InboundMessage, Integration


async def first_message(
    plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> InboundMessage:
    result = await plugin.bridgekit_ingest(integration, webhook(meta, meta.text_event("U1", "hello")))
    return result.messages[0]


async def test_profile_gives_name_username_and_instagram_handle(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    meta.add_profile(
        "U1", name="김민지", username="minji.k", profile_pic="https://cdn.example/p.jpg", follower_count=12
    )
    profile = await ig_plugin.bridgekit_identify_customer(
        integration, await first_message(ig_plugin, integration, meta)
    )
    assert profile is not None
    assert profile.name == "김민지"
    (contact,) = profile.contacts
    assert (contact.kind, contact.value, contact.name) == ("instagram", "U1", "김민지")
    assert contact.verified is True
    assert contact.shared is False  # an IGSID means nothing outside this Instagram account
    assert profile.meta["username"] == "minji.k"
    assert profile.meta["profile_url"] == "https://www.instagram.com/minji.k/"
    assert profile.meta["follower_count"] == 12


async def test_username_is_the_name_when_no_name_is_set(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    meta.add_profile("U1", username="shop.fan")
    profile = await ig_plugin.bridgekit_identify_customer(
        integration, await first_message(ig_plugin, integration, meta)
    )
    assert profile is not None
    assert profile.name == "@shop.fan"


async def test_profile_is_cached_per_customer(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    meta.add_profile("U1", name="Minji")
    message = await first_message(ig_plugin, integration, meta)
    for _ in range(3):
        profile = await ig_plugin.bridgekit_identify_customer(integration, message)
        assert profile is not None
        assert profile.name == "Minji"
    assert meta.profile_requests == ["U1"]


async def test_profile_cache_expires_after_ttl(ig_plugin: InstagramPlugin, meta: MetaSandbox) -> None:
    integration = integration_for(meta, profile_ttl_seconds=0.05)
    meta.add_profile("U1", name="Old name")
    message = await first_message(ig_plugin, integration, meta)
    await ig_plugin.bridgekit_identify_customer(integration, message)
    meta.add_profile("U1", name="New name")
    await asyncio.sleep(0.1)
    profile = await ig_plugin.bridgekit_identify_customer(integration, message)
    assert profile is not None
    assert profile.name == "New name"


async def test_profile_failure_falls_back_without_failing(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    meta.add_profile("U1", name="Minji")
    message = await first_message(ig_plugin, integration, meta)
    meta.fail_next("server_error", endpoint="profile")
    assert await ig_plugin.bridgekit_identify_customer(integration, message) is None


async def test_unknown_user_and_slow_profile_fall_back(ig_plugin: InstagramPlugin, meta: MetaSandbox) -> None:
    integration = integration_for(meta, timeout_seconds=0.3)
    message = await first_message(ig_plugin, integration, meta)
    assert await ig_plugin.bridgekit_identify_customer(integration, message) is None  # no such profile
    other = InstagramPlugin()
    try:
        meta.add_profile("U1", name="Minji")
        meta.fail_next("timeout", endpoint="profile", delay=5)
        assert await other.bridgekit_identify_customer(integration, message) is None
    finally:
        await other.aclose()
