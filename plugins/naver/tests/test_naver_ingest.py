"""Each TalkTalk webhook event, as the sandbox builds it, through ``bridgekit_ingest``.

What a manager would notice: customers' texts and images arrive in the chat with the
TalkTalk user as sender (I9: a Naver chat); echoes of our own sends never come back as
customer messages; window opens, leaves, typing and handovers add nothing; a redelivered
body is one message, a repeated identical message later is a new one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from bridgekit_naver.plugin import NaverPlugin
from bridgekit_naver.sandbox import TalkTalkSandbox, sample_png

from bridgekit.exceptions import MalformedDelivery
from bridgekit.model import Contact, CustomerEvent, IngestResult, Integration, RawDelivery

TOKEN = "pt_secret_path_token"
USER = "al-2eGuGr5WQOnco1_V-FQ"
NOW = datetime(2024, 5, 1, 3, 0, 0, tzinfo=UTC)
INTEGRATION = Integration(
    id=7,
    name="acme",
    channel="naver",
    settings={"image_fetch_timeout": 1.0},
    secrets={"path_token": TOKEN, "authorization_key": "ct_key"},
)


@pytest.fixture
async def naver() -> AsyncIterator[TalkTalkSandbox]:
    sandbox = TalkTalkSandbox(path_token=TOKEN)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture
async def plugin() -> AsyncIterator[NaverPlugin]:
    instance = NaverPlugin()
    yield instance
    await instance.aclose()


def delivery(body: bytes, received_at: datetime | None = NOW) -> RawDelivery:
    return RawDelivery(
        integration="acme",
        method="POST",
        path="/hooks/acme",
        headers={"content-type": "application/json;charset=UTF-8"},
        query={"token": TOKEN},
        body=body,
        remote="127.0.0.1",
        received_at=received_at,
    )


async def ingest(plugin: NaverPlugin, event: dict[str, object], received_at: datetime = NOW) -> IngestResult:
    return await plugin.bridgekit_ingest(INTEGRATION, delivery(TalkTalkSandbox.encode(event), received_at))


async def test_customer_text_becomes_a_message_from_the_talktalk_user(plugin: NaverPlugin) -> None:
    """I9: the chat's customer is the TalkTalk user id, a verified, integration-scoped handle."""
    result = await ingest(plugin, TalkTalkSandbox.text_event(USER, "배송은 언제 되나요?"))
    [message] = result.messages
    assert message.text == "배송은 언제 되나요?"
    assert message.sender == Contact(kind="naver", value=USER, verified=True, shared=False)
    assert message.thread_key == USER
    assert message.sent_at == NOW
    assert not message.automated
    assert message.meta["input_type"] == "typing"
    assert message.event_id.startswith("naver:")


async def test_button_press_keeps_its_code_and_standby_flag(plugin: NaverPlugin) -> None:
    event = TalkTalkSandbox.text_event(
        USER, "주문 조회", input_type="button", code="ORDER_LOOKUP", standby=True
    )
    [message] = (await ingest(plugin, event)).messages
    assert message.text == "주문 조회"
    assert message.meta["code"] == "ORDER_LOOKUP"
    assert message.meta["standby"] is True


async def test_safe_number_request_reads_as_a_sentence(plugin: NaverPlugin) -> None:
    event = TalkTalkSandbox.text_event(USER, "050719003814,2017-11-03", input_type="vphone")
    [message] = (await ingest(plugin, event)).messages
    assert message.text == "Asked to be called back on the safe number 050719003814 (valid until 2017-11-03)."
    assert message.meta["safe_number"] == "050719003814"


async def test_customer_image_is_fetched_into_an_attachment(
    plugin: NaverPlugin, naver: TalkTalkSandbox
) -> None:
    png = sample_png(3, 2)
    url = naver.host_image(png, "image/png", name="photo.png")
    [message] = (await ingest(plugin, TalkTalkSandbox.image_event(USER, url))).messages
    [attachment] = message.attachments
    assert attachment.data == png
    assert attachment.content_type == "image/png"
    assert attachment.filename == "photo.png"
    assert message.meta["image_url"] == url
    assert message.text == ""


async def test_image_with_a_generic_content_type_is_recognised(
    plugin: NaverPlugin, naver: TalkTalkSandbox
) -> None:
    url = naver.host_image(sample_png(), "application/octet-stream", name="blob")
    [message] = (await ingest(plugin, TalkTalkSandbox.image_event(USER, url))).messages
    [attachment] = message.attachments
    assert attachment.content_type == "image/png"
    assert attachment.filename == "blob.png"


@pytest.mark.parametrize("trouble", ["404", "timeout", "unreachable"])
async def test_image_that_cannot_be_fetched_degrades_to_a_readable_message(
    plugin: NaverPlugin, naver: TalkTalkSandbox, trouble: str
) -> None:
    """The manager still sees that an image was sent, and where it was; nothing is lost."""
    if trouble == "404":
        url = naver.host_image(sample_png(), status=404)
    elif trouble == "timeout":
        url = naver.host_image(sample_png(), delay=3.0)
    else:
        url = "http://127.0.0.1:9/never.png"
    [message] = (await ingest(plugin, TalkTalkSandbox.image_event(USER, url))).messages
    assert message.attachments == ()
    assert message.text == f"[Image could not be loaded: {url}]"
    assert message.meta["image_url"] == url
    assert message.meta["image_error"]


async def test_composite_content_is_kept_readable(plugin: NaverPlugin) -> None:
    event = TalkTalkSandbox.composite_event(
        USER,
        {
            "title": "주문 확인",
            "description": "아래 상품을 주문하시겠어요?",
            "elementList": {"type": "LIST", "data": [{"title": "티셔츠", "description": "M / 블랙"}]},
            "buttonList": [
                {"type": "TEXT", "data": {"title": "네", "code": "YES"}},
                {
                    "type": "LINK",
                    "data": {"title": "상세", "url": "https://example.com/p/1", "mobileUrl": "x"},
                },
            ],
        },
    )
    [message] = (await ingest(plugin, event)).messages
    assert message.text.splitlines() == [
        "주문 확인",
        "아래 상품을 주문하시겠어요?",
        "- 티셔츠 / M / 블랙",
        "Buttons: 네, 상세 <https://example.com/p/1>",
    ]


@pytest.mark.parametrize("on", [True, False])
async def test_friend_on_off_is_a_follow_event_not_a_message(plugin: NaverPlugin, on: bool) -> None:
    """For the customer's timeline; no chat message (Naver advises against replying to it)."""
    result = await ingest(plugin, TalkTalkSandbox.friend_event(USER, on=on))
    assert result.messages == ()
    [event] = result.events
    assert isinstance(event, CustomerEvent)
    assert (event.kind, event.sender.value, event.thread_key) == ("follow" if on else "unfollow", USER, USER)
    assert event.data == {"naver_event": "friend", "set": "on" if on else "off"}


async def test_open_and_leave_are_timeline_events_with_where_the_customer_came_from(
    plugin: NaverPlugin,
) -> None:
    opened = TalkTalkSandbox.open_event(USER, inflow="button", referer="https://smartstore.naver.com/x/1")
    [event] = (await ingest(plugin, opened)).events
    assert isinstance(event, CustomerEvent)
    assert event.kind == "open"
    assert event.data["options"]["referer"] == "https://smartstore.naver.com/x/1"
    [left] = (await ingest(plugin, TalkTalkSandbox.leave_event(USER))).events
    assert isinstance(left, CustomerEvent)
    assert left.kind == "leave"


async def test_echo_of_our_own_send_never_becomes_a_customer_message(
    plugin: NaverPlugin, naver: TalkTalkSandbox
) -> None:
    """Storing or re-sending echoes loops forever (README, echo 이벤트 주의)."""
    for event in (
        naver.echo_event(USER, "답변 드립니다."),
        naver.echo_event(USER, "하이", source_id=1, thread_owner_id=1, manager_nickname="상담사"),
    ):
        result = await ingest(plugin, event)
        assert result.messages == ()
        assert result.status_updates == ()


@pytest.mark.parametrize(
    "event",
    [
        TalkTalkSandbox.open_event(
            USER, inflow="button", referer="https://smartstore.naver.com/x/1", from_="1"
        ),
        TalkTalkSandbox.open_event(USER, inflow="list", referer="https://talk.naver.com/"),
        TalkTalkSandbox.leave_event(USER),
        TalkTalkSandbox.action_event(USER, "typingOn"),
        TalkTalkSandbox.action_event(USER, "typingOff"),
        TalkTalkSandbox(partner="wc1234").handover_event(USER),
        {"event": "persistentMenu", "menuContent": []},
        {"event": "test"},
        {"event": "someFutureEvent", "user": USER, "options": {}},
    ],
    ids=[
        "open-button",
        "open-list",
        "leave",
        "typing-on",
        "typing-off",
        "handover",
        "menu",
        "test",
        "unknown",
    ],
)
async def test_non_message_events_add_nothing_and_never_raise(
    plugin: NaverPlugin, event: dict[str, object]
) -> None:
    """Opening the window or leaving it must not reopen a closed chat with an empty message."""
    result = await ingest(plugin, event)
    assert result.messages == ()
    assert all(e.kind in ("open", "leave") for e in result.events)  # never messages


async def test_identical_redelivery_has_the_same_event_id(plugin: NaverPlugin) -> None:
    """The core dedupes on event_id: a redelivered body is stored once."""
    body = TalkTalkSandbox.encode(TalkTalkSandbox.text_event(USER, "네"))
    first = await plugin.bridgekit_ingest(INTEGRATION, delivery(body, NOW))
    again = await plugin.bridgekit_ingest(INTEGRATION, delivery(body, NOW + timedelta(seconds=2)))
    replay = await plugin.bridgekit_ingest(INTEGRATION, delivery(body, NOW))
    assert first.messages[0].event_id == again.messages[0].event_id == replay.messages[0].event_id


async def test_same_words_sent_again_later_are_a_new_message(plugin: NaverPlugin) -> None:
    """TalkTalk bodies carry no id or time: a customer's second "네" a minute later must not vanish."""
    body = TalkTalkSandbox.encode(TalkTalkSandbox.text_event(USER, "네"))
    first = await plugin.bridgekit_ingest(INTEGRATION, delivery(body, NOW))
    later = await plugin.bridgekit_ingest(INTEGRATION, delivery(body, NOW + timedelta(minutes=1)))
    other = await ingest(plugin, TalkTalkSandbox.text_event(USER, "아니요"))
    assert len({first.messages[0].event_id, later.messages[0].event_id, other.messages[0].event_id}) == 3


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"user": "x"}',
        b'{"event": "send", "user": 5}',
        b'{"event": "send"}',
        b'{"event": "send", "user": "u1", "textContent": {"text": {}}}',
        b'{"event": "send", "user": "u1", "imageContent": {"imageUrl": 7}}',
        b'{"event": "friend", "user": "u1", "options": {"set": true}}',
    ],
    ids=[
        "empty",
        "text",
        "array",
        "no-event",
        "bad-user",
        "send-without-user",
        "text-not-a-string",
        "image-url-not-a-string",
        "friend-set-not-a-string",
    ],
)
async def test_authentic_but_unparseable_body_is_malformed(plugin: NaverPlugin, body: bytes) -> None:
    """Kept raw and answered 400 by the core, never a crash."""
    with pytest.raises(MalformedDelivery):
        await plugin.bridgekit_ingest(INTEGRATION, delivery(body))


async def test_a_get_on_the_webhook_url_is_harmless(plugin: NaverPlugin) -> None:
    probe = RawDelivery("acme", "GET", "/hooks/acme", {}, {"token": TOKEN}, b"", "127.0.0.1", NOW)
    assert (await plugin.bridgekit_ingest(INTEGRATION, probe)).messages == ()
