"""Linking and unlinking Kakao channels over real HTTP against the NHN Cloud sandbox (K2, K4,
K8, seed 002): the flow through "waiting for token verification" to linked; each refusal the
seed lists, explained with its fix; a channel never linked twice; every unlinking rule."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from bridgekit.inbox.managers import ADMIN, create_manager
from bridgekit.testing.conformance import MakeBridge
from bridgekit.testing.harness import RunningBridge
from bridgekit.web.i18n import CATALOGUES, LANGS
from bridgekit_sms.plugin import SmsPlugin
from bridgekit_sms.sandbox import NhnSandbox
from bridgekit_sms.sandbox import integration as sms_integration

import bridgekit_kakao
from bridgekit_kakao.links import LinkStore
from bridgekit_kakao.plugin import KakaoPlugin
from bridgekit_kakao.sandbox import AlimtalkSandbox
from bridgekit_kakao.sandbox_senders import SHOPPING
from bridgekit_kakao.testkit import SHIPPED, MakeCustomer, StartBridge, alimtalk, call, render

ADMIN_PHONE = "010-9876-5432"
AS_NHN_HAS_IT = "01098765432"
PARAMETERS = {"name": "홍길동", "invoice": "6079-1234-5678"}
ALL_ON = {"consultation": True, "alimtalk": True, "brand": True}

Caller = Callable[..., Awaitable[tuple[int, Any]]]


async def admin_of(running: RunningBridge) -> tuple[int, Caller]:
    """A manager with the admin permission, and a way to call the API as them."""
    manager_id, token = await create_manager(
        running.bridge.db, running.bridge.workspace_id, "Admin Kim", permissions=(ADMIN,)
    )

    async def as_admin(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{running.url}/api/v1/kakao{path}"
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.request(method, url, **kwargs) as resp,
        ):
            return resp.status, await resp.json()

    return manager_id, as_admin


def start_body(search_id: str, **rest: Any) -> dict[str, Any]:
    return {
        "search_id": search_id,
        "category_code": SHOPPING,
        "services": ALL_ON,
        "admin_phone": ADMIN_PHONE,
    } | rest


async def linked(as_admin: Caller, kakao: AlimtalkSandbox, search_id: str, **rest: Any) -> dict[str, Any]:
    """Link ``search_id`` as the admin would: start, read the code in KakaoTalk, enter it."""
    status, waiting = await as_admin("POST", "/links", json=start_body(search_id, **rest))
    assert status == 201, waiting
    code = kakao.senders.codes_sent[AS_NHN_HAS_IT]
    status, done = await as_admin("POST", f"/links/{waiting['id']}/token", json={"token": code})
    assert status == 200, done
    result: dict[str, Any] = done
    return result


async def shop_linked(
    start: StartBridge, kakao: AlimtalkSandbox, make_customer: MakeCustomer
) -> tuple[RunningBridge, int, Caller, dict[str, Any]]:
    """A running bridgekit whose admin linked @bridgeshop (the Alimtalk sandbox's sender), and a
    customer with a Korean mobile number: (bridge, customer, the admin's caller, the link)."""
    kakao.senders.add_channel("@bridgeshop", AS_NHN_HAS_IT, sender_key=kakao.sender_key)
    running = await start()
    customer_id = await make_customer(running)
    _, as_admin = await admin_of(running)
    return running, customer_id, as_admin, await linked(as_admin, kakao, "@bridgeshop")


async def test_the_link_flow_waits_for_the_token_then_links_and_the_first_becomes_default(
    start: StartBridge, kakao: AlimtalkSandbox
) -> None:
    shop = kakao.senders.add_channel("@bridgeshop", AS_NHN_HAS_IT)
    kakao.senders.add_channel("@bridgecare", AS_NHN_HAS_IT)
    running = await start()
    admin_id, as_admin = await admin_of(running)
    status, answer = await as_admin("GET", "/categories")
    assert status == 200
    assert {"code": SHOPPING, "name": "쇼핑 > 온라인쇼핑몰 > 종합쇼핑몰"} in answer["categories"]

    status, waiting = await as_admin("POST", "/links", json=start_body("BridgeShop"))
    assert status == 201, waiting
    assert waiting["state"] == "waiting_for_token"
    assert waiting["search_id"] == "@bridgeshop"
    assert waiting["services"] == ALL_ON
    assert shop.status == "YSC02"  # NHN registered it; Kakao sent the code to the admin phone
    # A wrong code: still waiting, and the answer says what to do.
    bad = "1" if kakao.senders.codes_sent[AS_NHN_HAS_IT] != "1" else "2"
    status, wrong = await as_admin("POST", f"/links/{waiting['id']}/token", json={"token": bad})
    assert status == 422
    assert wrong["code"] == "kakao_token_invalid"
    assert "waiting for token verification" in wrong["error"]
    (listed,) = (await as_admin("GET", "/links"))[1]["links"]
    assert listed["state"] == "waiting_for_token"

    code = kakao.senders.codes_sent[AS_NHN_HAS_IT]
    status, done = await as_admin("POST", f"/links/{waiting['id']}/token", json={"token": code})
    assert status == 200, done
    assert done["state"] == "linked"
    assert (done["front_home"], done["follow_up"]) == (True, True)  # the first linked: the default
    assert [(h["action"], h["state"], h["manager_id"]) for h in done["history"]] == [
        ("verification_code_sent", "waiting_for_token", admin_id),
        ("linked", "linked", admin_id),
    ]
    second = await linked(as_admin, kakao, "@bridgecare", services={"alimtalk": True})
    assert (second["front_home"], second["follow_up"]) == (False, False)
    assert second["services"] == {"consultation": False, "alimtalk": True, "brand": False}
    # The sender key is stored sealed, never in the clear.
    stored = b"".join(
        p.read_bytes() for p in (running.bridge.data_dir / "kakao").glob("links.sqlite3*") if p.is_file()
    )
    assert shop.sender_key.encode() not in stored
    assert b"@bridgeshop" in stored
    # ...with the server's key for secrets, so it opens again (and NHN is asked with it).
    store = LinkStore(running.bridge.data_dir / "kakao" / "links.sqlite3")
    sealed = store.link(done["id"]).sealed_secrets
    store.close()
    assert running.bridge.open_secrets(sealed) == {"sender_key": shop.sender_key}


@pytest.mark.parametrize(
    ("setup", "code", "fix"),
    [
        ({"customer_centre": False}, "kakao_customer_centre_missing", "Customer centre contact"),
        ({"public": False}, "kakao_channel_not_public", "switch 'Public channel' on"),
        ({"admin_phones": {"01011112222"}}, "kakao_admin_phone_not_registered", "Manage > Admins"),
        ({"token_undeliverable": True}, "kakao_token_undeliverable", "Blocked friends"),
        ({"other_partner": True}, "kakao_profile_used_by_another_partner", "Happytalk"),
    ],
)
async def test_each_refusal_kakao_gives_is_explained_with_its_fix(
    start: StartBridge, kakao: AlimtalkSandbox, setup: dict[str, Any], code: str, fix: str
) -> None:
    channel = kakao.senders.add_channel("@bridgeshop", AS_NHN_HAS_IT)
    for key, value in setup.items():
        setattr(channel, key, value)
    running = await start()
    _, as_admin = await admin_of(running)
    status, refused = await as_admin("POST", "/links", json=start_body("@bridgeshop"))
    assert status in (409, 422), refused
    assert refused["code"] == code
    assert "the Kakao API request failed" in refused["error"]
    assert fix in refused["error"]
    assert (await as_admin("GET", "/links"))[1]["links"] == []  # nothing half-linked is left
    assert kakao.senders.codes_sent == {}
    # Fixed in Kakao's admin centre, the same channel links.
    kakao.senders.add_channel("@bridgeshop", AS_NHN_HAS_IT)
    assert (await linked(as_admin, kakao, "@bridgeshop"))["state"] == "linked"


async def test_a_kakao_channel_is_never_linked_twice(start: StartBridge, kakao: AlimtalkSandbox) -> None:
    kakao.senders.add_channel("@bridgeshop", AS_NHN_HAS_IT)
    running = await start()
    _, as_admin = await admin_of(running)
    # Two admins at once: one link, one refusal.
    body = start_body("@bridgeshop")
    answers = await asyncio.gather(*(as_admin("POST", "/links", json=body) for _ in range(2)))
    assert sorted(status for status, _ in answers) == [201, 409]
    refusal = next(answer for status, answer in answers if status == 409)
    assert refusal["code"] == "kakao_channel_already_linked"
    first = next(answer for status, answer in answers if status == 201)
    code = kakao.senders.codes_sent[AS_NHN_HAS_IT]
    assert (await as_admin("POST", f"/links/{first['id']}/token", json={"token": code}))[0] == 200
    status, again = await as_admin("POST", "/links", json=start_body("BRIDGESHOP"))
    assert (status, again["code"]) == (409, "kakao_channel_already_linked")
    # The database itself refuses it, whoever writes.
    store = LinkStore(running.bridge.data_dir / "kakao" / "links.sqlite3")
    with pytest.raises(Exception, match="already linked"):
        store.start(
            integration="alimtalk",
            search_id="@bridgeshop",
            category_code=SHOPPING,
            admin_phone=AS_NHN_HAS_IT,
            services=ALL_ON,
            consultation_integration="",
            manager_id=1,
        )
    store.close()


async def test_k8_one_service_stays_on(start: StartBridge, kakao: AlimtalkSandbox) -> None:
    kakao.senders.add_channel("@bridgeshop", AS_NHN_HAS_IT)
    running = await start()
    _, as_admin = await admin_of(running)
    status, answer = await as_admin(
        "POST", "/links", json=start_body("@bridgeshop", services={"consultation": False})
    )
    assert (status, answer["code"]) == (400, "kakao_one_service_required")
    link = await linked(as_admin, kakao, "@bridgeshop", services={"alimtalk": True, "brand": True})
    await as_admin("PATCH", f"/links/{link['id']}", json={"follow_up": False, "front_home": False})
    status, answer = await as_admin("PATCH", f"/links/{link['id']}", json={"services": {"brand": False}})
    assert status == 200, answer
    status, answer = await as_admin("PATCH", f"/links/{link['id']}", json={"services": {"alimtalk": False}})
    assert (status, answer["code"]) == (400, "kakao_one_service_required")
    (listed,) = (await as_admin("GET", "/links"))[1]["links"]
    assert listed["services"] == {"consultation": False, "alimtalk": True, "brand": False}


async def test_k8_a_default_channel_cannot_have_a_service_switched_off_or_be_deleted(
    start: StartBridge, kakao: AlimtalkSandbox
) -> None:
    kakao.senders.add_channel("@bridgeshop", AS_NHN_HAS_IT)
    kakao.senders.add_channel("@bridgecare", AS_NHN_HAS_IT)
    running = await start()
    _, as_admin = await admin_of(running)
    shop = await linked(as_admin, kakao, "@bridgeshop")
    care = await linked(as_admin, kakao, "@bridgecare")
    for method, path, body in (
        ("PATCH", f"/links/{shop['id']}", {"services": {"brand": False}}),
        ("DELETE", f"/links/{shop['id']}", None),
    ):
        status, answer = await as_admin(method, path, json=body)
        assert (status, answer["code"]) == (409, "kakao_link_is_default"), answer
        assert "front_home and follow_up" in answer["error"]
    # Moving one default is not enough; moving both is.
    await as_admin("PATCH", f"/links/{care['id']}", json={"front_home": True})
    status, answer = await as_admin("DELETE", f"/links/{shop['id']}")
    assert (status, answer["code"]) == (409, "kakao_link_is_default")
    assert answer["details"]["defaults"] == "follow_up"
    status, moved = await as_admin("PATCH", f"/links/{care['id']}", json={"follow_up": True})
    assert (moved["front_home"], moved["follow_up"]) == (True, True)
    status, gone = await as_admin("DELETE", f"/links/{shop['id']}")
    assert (status, gone["state"]) == (200, "deleted")
    # Each move of a default is in the history of the link it left, with who moved it.
    assert [(h["action"], h["details"]) for h in gone["history"]] == [
        ("verification_code_sent", {"services": ALL_ON, "category_code": SHOPPING}),
        ("linked", {"front_home": True, "follow_up": True, "relinked_after_delete": False}),
        ("default_changed", {"front_home": False}),
        ("default_changed", {"follow_up": False}),
        ("deleted", {}),
    ]
    # The defaults need their service: follow-up Alimtalks need Alimtalk on.
    status, answer = await as_admin("PATCH", f"/links/{care['id']}", json={"services": {"alimtalk": False}})
    assert (status, answer["code"]) == (409, "kakao_link_is_default")


async def open_chat(running: RunningBridge, phone: str) -> int:
    """An ongoing chat on the ``sms`` integration, the stand-in for a consultation-talk one."""
    body = {"integration": "sms", "text": "안녕하세요", "contact": {"kind": "phone", "value": phone}}
    status, answer = await call(running, "POST", "/api/v1/chats", json=body)
    assert status == 201, answer
    chat_id = int(answer["chat_id"])
    status, _ = await call(running, "POST", f"/api/v1/chats/{chat_id}/reopen")
    chat = next(c for c in await running.chats() if c["id"] == chat_id)
    assert chat["state"] == "open", chat
    return chat_id


@pytest.mark.parametrize("how", ["switch_off", "delete"])
async def test_k8_switching_off_consultation_or_deleting_closes_its_ongoing_chats_saying_why(
    start: StartBridge, kakao: AlimtalkSandbox, how: str
) -> None:
    kakao.senders.add_channel("@bridgeshop", AS_NHN_HAS_IT)
    running = await start()
    _, as_admin = await admin_of(running)
    link = await linked(as_admin, kakao, "@bridgeshop", consultation_integration="sms")
    chats = [await open_chat(running, phone) for phone in ("010-1111-2222", "010-3333-4444")]
    await as_admin("PATCH", f"/links/{link['id']}", json={"front_home": False, "follow_up": False})
    if how == "switch_off":
        off = {"services": {"consultation": False}}
        status, answer = await as_admin("PATCH", f"/links/{link['id']}", json=off)
        why = "Consultation talk was switched off for @bridgeshop"
    else:
        status, answer = await as_admin("DELETE", f"/links/{link['id']}")
        why = "The Kakao channel @bridgeshop was unlinked"
    assert status == 200, answer
    for chat_id in chats:
        chat = next(c for c in await running.chats() if c["id"] == chat_id)
        assert chat["state"] == "closed"
        note = (await running.messages(chat_id))[-1]
        assert note["direction"] == "note"
        assert note["text"].startswith(why), note
        assert note["author_name"] == "Kakao"


async def read_at_start(running: RunningBridge) -> list[dict[str, Any]]:
    """The templates, once the read from NHN at start has come in (on PostgreSQL it waits for
    the process to be elected first)."""

    async def listed() -> list[dict[str, Any]]:
        templates: list[dict[str, Any]] = (await call(running, "GET", "/api/v1/kakao_alimtalk/templates"))[1][
            "templates"
        ]
        return templates

    found: list[dict[str, Any]] = await running.wait_for(listed)
    return found


async def test_k8_switching_off_alimtalk_makes_its_templates_unusable_until_switched_on(
    start: StartBridge, kakao: AlimtalkSandbox, make_customer: MakeCustomer
) -> None:
    running, customer_id, as_admin, link = await shop_linked(start, kakao, make_customer)
    await as_admin("PATCH", f"/links/{link['id']}", json={"front_home": False, "follow_up": False})
    status, off = await as_admin("PATCH", f"/links/{link['id']}", json={"services": {"alimtalk": False}})
    assert (status, off["services"]["alimtalk"]) == (200, False)
    status, refused = await alimtalk(running, customer_id, SHIPPED, **PARAMETERS)
    assert (status, refused["code"]) == (422, "kakao_alimtalk_off")
    assert "@bridgeshop" in refused["error"]
    assert (await render(running, SHIPPED, **PARAMETERS))[1]["code"] == "kakao_alimtalk_off"
    templates = await read_at_start(running)
    assert [(t["code"], t["state"], t["sendable"]) for t in templates] == [(SHIPPED, "approved", False)]
    assert kakao.sent == []
    await as_admin("PATCH", f"/links/{link['id']}", json={"services": {"alimtalk": True}})
    status, sent = await alimtalk(running, customer_id, SHIPPED, **PARAMETERS)
    assert status == 201, sent


async def test_k8_a_deleted_channel_linked_again_has_its_templates_deleted_needing_review(
    start: StartBridge, kakao: AlimtalkSandbox, make_customer: MakeCustomer
) -> None:
    running, customer_id, as_admin, link = await shop_linked(start, kakao, make_customer)
    assert (await call(running, "POST", "/api/v1/kakao_alimtalk/templates/sync"))[0] == 200
    await as_admin("PATCH", f"/links/{link['id']}", json={"front_home": False, "follow_up": False})
    status, _ = await as_admin("DELETE", f"/links/{link['id']}")
    assert status == 200
    assert kakao.senders.deleted == [kakao.sender_key]  # NHN deleted the sender (and its templates)
    status, refused = await alimtalk(running, customer_id, SHIPPED, **PARAMETERS)
    assert (status, refused["code"]) == (422, "kakao_link_deleted")
    again = await linked(as_admin, kakao, "@bridgeshop")
    assert again["id"] != link["id"]
    assert again["history"][-1]["details"]["relinked_after_delete"] is True
    templates = await read_at_start(running)
    assert [(t["code"], t["state"], t["sendable"]) for t in templates] == [(SHIPPED, "deleted", False)]
    status, refused = await alimtalk(running, customer_id, SHIPPED, **PARAMETERS)
    assert status == 422
    assert "deleted" in refused["error"]
    assert kakao.sent == []


async def test_only_admins_link_and_unlink(start: StartBridge, kakao: AlimtalkSandbox) -> None:
    running = await start()
    routes = (("GET", "/links"), ("POST", "/links"), ("DELETE", "/links/1"), ("GET", "/categories"))
    for method, path in routes:
        status, answer = await call(running, method, f"/api/v1/kakao{path}", json={})
        assert (status, answer["code"]) == (403, "permission"), (method, path)
    assert kakao.senders.codes_sent == {}


def test_every_kakao_refusal_code_is_documented_and_translated() -> None:
    """As tests/inbox/test_error_codes.py asks of the core: the inbox words every code itself."""
    package = Path(bridgekit_kakao.__file__).parent
    channels = {spec.name for spec in KakaoPlugin().bridgekit_channels()}
    codes = {
        code
        # The link modules name their codes positionally (``refused(text, code, status)``);
        # codes given as ``code=...`` anywhere are held by tests/inbox/test_error_codes.py.
        for path in [*package.glob("links*.py"), package / "senders.py"]
        for code in re.findall(r"\"(kakao_[a-z_]+)\"", path.read_text(encoding="utf-8"))
        if code not in channels  # a channel's name, not a code
    }
    assert {"kakao_customer_centre_missing", "kakao_link_is_default", "kakao_alimtalk_off"} <= codes
    api_doc = (Path(__file__).parents[3] / "docs" / "api.md").read_text(encoding="utf-8")
    for code in sorted(codes):
        assert f"`{code}`" in api_doc, code
        for lang in LANGS:
            assert f"error.{code}" in CATALOGUES[lang], (lang, code)


async def test_an_integration_without_a_sender_key_sends_from_the_channel_an_admin_linked(
    make_bridge: MakeBridge, kakao: AlimtalkSandbox, sms: NhnSandbox, make_customer: MakeCustomer
) -> None:
    """Linking is the manager's operation, not a TOML edit: the integration holds NHN's app
    key and secret only, and the Alimtalks go out from the default linked channel."""
    kakao.senders.add_channel("@bridgeshop", AS_NHN_HAS_IT, sender_key=kakao.sender_key)
    settings = kakao.settings()
    del settings["sender_key"]
    plugin = KakaoPlugin()
    running = await make_bridge(
        plugins={"kakao": plugin, "sms": SmsPlugin()},
        integrations={
            "alimtalk": {"channel": "kakao_alimtalk", "settings": settings, "secrets": kakao.secrets()},
            "sms": sms_integration(sms, None),
        },
    )
    try:
        customer_id = await make_customer(running)
        status, refused = await alimtalk(running, customer_id, SHIPPED, **PARAMETERS)
        assert (status, refused["code"]) == (422, "kakao_no_linked_channel")
        _, as_admin = await admin_of(running)
        await linked(as_admin, kakao, "@bridgeshop")
        status, sent = await alimtalk(running, customer_id, SHIPPED, **PARAMETERS)
        assert status == 201, sent
        await running.wait_for(lambda: kakao.sent)
        assert [s["templateCode"] for s in kakao.sent] == [SHIPPED]
    finally:
        await plugin.aclose()


async def test_a_link_abandoned_while_waiting_for_its_token_leaves_the_templates_alone(
    start: StartBridge, kakao: AlimtalkSandbox
) -> None:
    kakao.senders.add_channel("@bridgeshop", AS_NHN_HAS_IT, sender_key=kakao.sender_key)
    running = await start()
    _, as_admin = await admin_of(running)
    status, waiting = await as_admin("POST", "/links", json=start_body("@bridgeshop"))
    assert status == 201
    status, gone = await as_admin("DELETE", f"/links/{waiting['id']}")
    assert (status, gone["state"]) == (200, "deleted")
    assert kakao.senders.deleted == []  # never registered: nothing to delete at NHN
    again = await linked(as_admin, kakao, "@bridgeshop")
    assert again["history"][-1]["details"]["relinked_after_delete"] is False
    templates = await read_at_start(running)
    assert [(t["code"], t["state"], t["sendable"]) for t in templates] == [(SHIPPED, "approved", True)]


async def test_k8_an_alimtalk_queued_before_alimtalk_was_switched_off_is_not_sent(
    start: StartBridge, kakao: AlimtalkSandbox, sms: NhnSandbox, make_customer: MakeCustomer
) -> None:
    running, customer_id, as_admin, link = await shop_linked(start, kakao, make_customer)
    await as_admin("PATCH", f"/links/{link['id']}", json={"front_home": False, "follow_up": False})
    outbox = running.bridge.outbox
    assert outbox is not None
    await outbox.stop()  # the send waits in the outbox (a busy worker, a retry) ...
    status, queued = await alimtalk(running, customer_id, SHIPPED, **PARAMETERS)
    assert status == 201, queued
    status, _ = await as_admin("PATCH", f"/links/{link['id']}", json={"services": {"alimtalk": False}})
    assert status == 200
    outbox.start()  # ... and is delivered after the switch-off: refused, nothing sent

    async def failed() -> dict[str, Any] | None:
        for chat in await running.chats():
            for message in await running.messages(chat["id"]):
                if message["id"] == queued["message_id"] and message["delivery_status"] == "failed":
                    found: dict[str, Any] = message
                    return found
        return None

    message = await running.wait_for(failed)
    assert "Alimtalk is switched off for the Kakao channel @bridgeshop" in message["delivery_error"]
    assert kakao.sent == []
    assert sms.sent == []  # no fallback text either: the channel may not send, it did not fail


async def test_k8_brand_messages_switched_off_are_refused_for_the_sender_that_sends_them(
    start: StartBridge, kakao: AlimtalkSandbox
) -> None:
    """Brand messages go from the same sender profile; their sender asks the links the same
    question before sending (campaigns included), so switching them off stops them."""
    shop = kakao.senders.add_channel("@bridgeshop", AS_NHN_HAS_IT)
    running = await start()
    _, as_admin = await admin_of(running)
    link = await linked(as_admin, kakao, "@bridgeshop")
    plugin = running.bridge.plugins.pm.get_plugin("kakao")  # the running plugin
    assert isinstance(plugin, KakaoPlugin)
    assert plugin.link_routes.sender_refusal(shop.sender_key, "brand") is None
    await as_admin("PATCH", f"/links/{link['id']}", json={"front_home": False, "follow_up": False})
    await as_admin("PATCH", f"/links/{link['id']}", json={"services": {"brand": False}})
    refusal = plugin.link_routes.sender_refusal(shop.sender_key, "brand")
    assert refusal is not None
    assert (refusal.code, refusal.status) == ("kakao_brand_off", 422)
    assert plugin.link_routes.sender_refusal(shop.sender_key, "alimtalk") is None
    await as_admin("DELETE", f"/links/{link['id']}")
    deleted = plugin.link_routes.sender_refusal(shop.sender_key, "alimtalk")
    assert deleted is not None
    assert deleted.code == "kakao_link_deleted"


async def test_a_link_request_missing_a_field_or_of_the_wrong_type_is_refused_in_words(
    start: StartBridge, kakao: AlimtalkSandbox
) -> None:
    """The route's JSON Schema is checked whole before the handler reads the body (an empty
    body once answered 500)."""
    running = await start()
    _admin_id, as_admin = await admin_of(running)
    status, answer = await as_admin("POST", "/links", json={})
    assert status == 400
    assert "is a required property" in answer["error"]
    status, answer = await as_admin("POST", "/links", json={**start_body("BridgeShop"), "services": "all"})
    assert status == 400
    assert answer["error"].startswith("services: ")
    assert (await as_admin("GET", "/links"))[1]["links"] == []  # nothing started
