"""Links (I11), the customer link with its form answers (I15), and the customer panel (I17)."""

from __future__ import annotations

import base64
import hashlib

import aiohttp
import pytest

from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration
from tests.inbox.messages_helpers import anonymous, close_chat, customer_writes, request, rows
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin


@pytest.fixture
async def running(make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin) -> RunningBridge:
    started: RunningBridge = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    return started


async def customer_path(running: RunningBridge, chat_id: int, rotate: bool = False) -> str:
    """The path of the chat's customer link (the base URL is the configured public one)."""
    method, suffix = ("POST", "/rotate") if rotate else ("GET", "")
    links = await running.api(method, f"/chats/{chat_id}/links{suffix}")
    base = running.bridge.config.base_url
    assert links["manager_link"] == f"{base}/chats/{chat_id}"
    assert links["customer_link"].startswith(f"{base}/c/")
    return str(links["customer_link"]).removeprefix(base)


async def test_i11_links_are_stable_rotatable_and_only_hashed(running: RunningBridge) -> None:
    chat_id = await customer_writes(running)
    first = await customer_path(running, chat_id)
    assert await customer_path(running, chat_id) == first  # "copy link" twice: the same link
    token = first.removeprefix("/c/")
    (chat,) = await rows(running, s.chats, s.chats.c.id == chat_id)
    assert chat.customer_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert len(base64.urlsafe_b64decode(token + "=")) == 32  # 256 unguessable bits

    rotated = await customer_path(running, chat_id, rotate=True)
    assert rotated != first
    assert (await anonymous(running, "GET", first))[0] == 404
    assert (await anonymous(running, "GET", rotated))[0] == 200
    assert await customer_path(running, chat_id) == rotated
    status, _ = await request(running, "GET", "/api/v1/chats/999999/links")
    assert status == 404


async def test_i11_the_customer_link_shows_only_that_chat_and_never_notes(
    running: RunningBridge, sandbox: SandboxProvider
) -> None:
    mine = await customer_writes(running, user="u-1", text="Where is my parcel?")
    other = await customer_writes(running, user="u-2", text="Someone else's question")
    await running.note(mine, "Internal: the courier lost it")
    await running.reply(mine, "It is on its way!")
    await running.reply(other, "Other answer")
    await running.note(other, "Other note")
    path = await customer_path(running, mine)
    other_path = await customer_path(running, other)

    status, page = await anonymous(running, "GET", path)
    assert status == 200
    assert page["chat"]["id"] == mine
    assert [(m["from"], m["text"]) for m in page["messages"]] == [
        ("customer", "Where is my parcel?"),
        ("team", "It is on its way!"),
    ]
    status, other_page = await anonymous(running, "GET", other_path)
    assert [m["text"] for m in other_page["messages"]] == ["Someone else's question", "Other answer"]

    for wrong in ("/c/not-a-token", "/c/" + "A" * 43, path + "x"):
        status, answer = await anonymous(running, "GET", wrong)
        assert (status, answer) == (404, {"error": "this link is not valid"})
        status, _ = await anonymous(running, "POST", wrong + "/messages", json={"text": "hi"})
        assert status == 404

    status, written = await anonymous(
        running, "POST", path + "/messages", json={"text": "Thanks, and one more"}
    )
    assert status == 201
    messages = await running.messages(mine)
    assert (messages[-1]["id"], messages[-1]["kind"], messages[-1]["author_kind"]) == (
        written["id"],
        "customer",
        "customer",
    )
    assert "Thanks, and one more" not in [m["text"] for m in await running.messages(other)]
    status, _ = await anonymous(running, "POST", path + "/messages", json={"text": " "})
    assert status == 400
    await close_chat(running, other)
    status, _ = await anonymous(running, "POST", other_path + "/messages", json={"text": "reopen?"})
    assert status == 201  # the test channel's policy: a customer's message reopens the chat
    (reopened,) = [c for c in await running.chats() if c["id"] == other]
    assert reopened["state"] == "open"


async def test_i15_form_answers_from_the_customer_link_are_saved_to_the_profile(
    running: RunningBridge,
) -> None:
    chat_id = await customer_writes(running, user="u-1", name="Hong")
    other = await customer_writes(running, user="u-2")
    form = {
        "fields": [
            {"key": "email", "label": "Email", "type": "email", "required": True},
            {"key": "phone", "label": "Phone", "type": "phone"},
            {"key": "shoe_size", "label": "Shoe size", "type": "number"},
            {"key": "note", "label": "Anything else", "type": "text"},
        ]
    }
    posted = await running.api(
        "POST", f"/chats/{chat_id}/messages", json={"text": "A few details please", "form": form}
    )
    path = await customer_path(running, chat_id)
    status, page = await anonymous(running, "GET", path)
    assert page["messages"][-1]["form"]["fields"][0]["key"] == "email"
    assert page["messages"][-1]["form_answered"] is False

    for answers, error in [
        ({"email": "not-an-email"}, "Email must be an email address"),
        ({"phone": "010-1234-5678"}, "Email is required"),
        ({"email": "a@b.example", "shoe_size": "big"}, "Shoe size must be a number"),
        ({"email": "a@b.example", "phone": "call me"}, "Phone must be a phone number"),
        ({"email": "a@b.example", "age": 3}, "the form has no field 'age'"),
    ]:
        status, answer = await anonymous(
            running, "POST", f"{path}/forms/{posted['id']}", json={"answers": answers}
        )
        assert (status, answer) == (400, {"error": error})

    other_path = await customer_path(running, other)
    status, _ = await anonymous(
        running, "POST", f"{other_path}/forms/{posted['id']}", json={"answers": {"email": "x@y.example"}}
    )
    assert status == 404  # another chat's token cannot answer this chat's form

    answers = {"email": "Hong@Mail.example", "phone": "+82 10-1234-5678", "shoe_size": "270", "note": "hi"}
    status, saved = await anonymous(
        running, "POST", f"{path}/forms/{posted['id']}", json={"answers": answers}
    )
    assert status == 200
    assert saved["answers"] == {
        "email": "Hong@Mail.example",
        "phone": "+821012345678",
        "shoe_size": 270,
        "note": "hi",
    }
    (chat,) = await rows(running, s.chats, s.chats.c.id == chat_id)
    panel = await running.api("GET", f"/customers/{chat.customer_id}")
    assert panel["customer"]["profile"] == saved["answers"]
    shared = {(c["kind"], c["value"], c["verified"]) for c in panel["customer"]["contacts"] if c["shared"]}
    assert shared == {("email", "hong@mail.example", False), ("phone", "+821012345678", False)}
    (message,) = [m for m in await running.messages(chat_id) if m["id"] == posted["id"]]
    assert message["form_answers"] == saved["answers"]
    status, page = await anonymous(running, "GET", path)
    assert page["messages"][-1]["form_answered"] is True


async def test_i17_the_customer_panel_shows_profile_events_chats_sends_files_and_links(
    running: RunningBridge, sandbox: SandboxProvider
) -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    first = await customer_writes(
        running,
        user="u-1",
        name="Hong",
        text="See https://shop.example/item/42, thanks",
        files=[{"name": "receipt.png", "type": "image/png", "data": png}],
    )
    (chat,) = await rows(running, s.chats, s.chats.c.id == first)
    customer_id = chat.customer_id
    await customer_writes(running, user="u-2", text="https://not-mine.example")  # another customer
    await running.api(
        "POST",
        f"/chats/{first}/messages",
        json={"text": "Track it here", "buttons": [{"text": "Track", "url": "https://track.example/1"}]},
    )
    await running.note(first, "internal https://intranet.example/ticket")
    second = (
        await running.api(
            "POST", "/chats", json={"integration": "acme", "text": "New topic", "customer_id": customer_id}
        )
    )["chat_id"]
    await running.wait_for(lambda: len(sandbox.accepted) == 2)

    async def billed() -> bool:
        return len(await rows(running, s.ledger)) == 2

    await running.wait_for(billed)
    for name, url in (("page_view", "/pricing"), ("page_view", "/checkout")):
        await running.api(
            "POST", f"/customers/{customer_id}/events", json={"name": name, "properties": {"url": url}}
        )

    panel = await running.api("GET", f"/customers/{customer_id}")
    assert panel["customer"]["name"] == "Hong"
    assert panel["customer"]["is_lead"] is True
    assert [(c["kind"], c["value"], c["shared"]) for c in panel["customer"]["contacts"]] == [
        ("testchat", "u-1", False)
    ]
    assert [e["properties"]["url"] for e in panel["events"]] == ["/checkout", "/pricing"]
    assert [c["id"] for c in panel["chats"]] == [second, first]
    assert {c["channel"] for c in panel["chats"]} == {"testchat"}
    assert [(m["text"], m["amount_pu"]) for m in panel["sent_messages"]] == [
        ("New topic", 7),
        ("Track it here", 7),
    ]
    assert [(f["filename"], f["chat_id"]) for f in panel["files"]] == [("receipt.png", first)]
    assert [link["url"] for link in panel["links"]] == [
        "https://track.example/1",
        "https://shop.example/item/42",
    ]

    async with running.session.get(f"{running.url}{panel['files'][0]['url']}") as resp:
        assert await resp.read() == b"\x89PNG fake"

    changed = await running.api(
        "PATCH",
        f"/customers/{customer_id}",
        json={"name": "Hong Gildong", "profile": {"tier": "gold", "vip": True}},
    )
    assert (changed["name"], changed["profile"]) == ("Hong Gildong", {"tier": "gold", "vip": True})
    changed = await running.api("PATCH", f"/customers/{customer_id}", json={"profile": {"vip": None}})
    assert (changed["name"], changed["profile"]) == ("Hong Gildong", {"tier": "gold"})


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/customers/999", None, 404, "no such customer"),
        ("PATCH", "/customers/{id}", {"email": "x"}, 400, "unknown field 'email'"),
        ("PATCH", "/customers/{id}", {"profile": {"a": [1]}}, 400, "must be text, a number"),
        ("PATCH", "/customers/{id}", {"profile": {"bad key": 1}}, 400, "profile key"),
        ("POST", "/customers/{id}/events", {"name": ""}, 400, "name must be"),
        ("POST", "/customers/{id}/events", {"name": "x", "properties": [1]}, 400, "properties must be"),
        ("POST", "/customers/999/events", {"name": "x"}, 404, "no such customer"),
    ],
)
async def test_i17_customer_changes_are_refused_clearly(
    running: RunningBridge, method: str, path: str, body: object, status: int, error: str
) -> None:
    chat_id = await customer_writes(running)
    (chat,) = await rows(running, s.chats, s.chats.c.id == chat_id)
    async with running.session.request(
        method, f"{running.url}/api/v1{path.format(id=chat.customer_id)}", json=body
    ) as resp:
        assert resp.status == status
        assert error in (await resp.json())["error"]


async def test_customer_link_needs_no_manager_token_but_the_panel_does(running: RunningBridge) -> None:
    chat_id = await customer_writes(running)
    (chat,) = await rows(running, s.chats, s.chats.c.id == chat_id)
    async with (
        aiohttp.ClientSession() as bare,
        bare.get(f"{running.url}/api/v1/customers/{chat.customer_id}") as resp,
    ):
        assert resp.status == 401
    assert (await anonymous(running, "GET", await customer_path(running, chat_id)))[0] == 200


async def test_a_closed_chat_of_a_new_chat_channel_stays_closed_on_the_customer_link(
    make_bridge, sandbox_url: str
) -> None:
    """E6-style channels: a closed conversation is not reopened by the customer's link."""
    mailish = TestChannelPlugin("testchat", closed_chat_policy="new_chat")
    running = await make_bridge(
        plugins={"testchat": mailish}, integrations={"acme": integration(sandbox_url)}
    )
    chat_id = await customer_writes(running)
    path = await customer_path(running, chat_id)
    await close_chat(running, chat_id)
    status, answer = await anonymous(running, "POST", path + "/messages", json={"text": "hello again"})
    assert status == 409
    assert "closed" in answer["error"]
    (chat,) = await running.chats()
    assert chat["state"] == "closed"
