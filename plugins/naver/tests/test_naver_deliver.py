"""Manager replies through ``bridgekit_deliver`` to the sandbox TalkTalk, over real HTTP.

What a manager would notice: the customer gets the text and the images; a refusal by
Naver (a resultCode other than "00" inside HTTP 200) marks the message failed with Naver's
reason; outages are retried; the message shows "sent", never "read" (I19).
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from bridgekit_naver.plugin import NaverPlugin
from bridgekit_naver.sandbox import TalkTalkSandbox, sample_png

from bridgekit.exceptions import PermanentDeliveryError, TransientDeliveryError
from bridgekit.model import (
    Contact,
    DeliveryStatus,
    InboxSlot,
    Integration,
    OutboundAttachment,
    OutboundMessage,
)
from bridgekit.plugins import PluginHost
from bridgekit.testing.progress import KeptProgress

KEY = "ct_wc8b1i_Pb1AXDQ0RZWuCccpzdNL"
USER = "al-2eGuGr5WQOnco1_V-FQ"


@pytest.fixture
async def naver() -> AsyncIterator[TalkTalkSandbox]:
    sandbox = TalkTalkSandbox(authorization_key=KEY, image_download_timeout=2.0)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture
async def plugin() -> AsyncIterator[NaverPlugin]:
    instance = NaverPlugin()
    yield instance
    await instance.aclose()


@pytest.fixture
async def media_server(tmp_path: Path, aiohttp_server: object) -> str:
    """Stands in for bridgekit's ``/media/...`` route (tested in tests/core/test_media_urls.py
    and through a running bridge in test_naver_e2e.py): serves ``tmp_path``'s files."""

    async def serve(request: web.Request) -> web.Response:
        path = tmp_path / request.match_info["name"]
        return web.Response(body=path.read_bytes(), content_type=mimetypes.guess_type(path.name)[0])

    app = web.Application()
    app.router.add_get("/media/{name}", serve)
    server: TestServer = await aiohttp_server(app)  # type: ignore[operator]
    return str(server.make_url("")).rstrip("/")


def integration(naver: TalkTalkSandbox, key: str = KEY) -> Integration:
    settings = {"api_base": naver.api_base}
    return Integration(
        id=3,
        name="acme",
        channel="naver",
        settings=settings,
        secrets={"authorization_key": key, "path_token": "pt"},
    )


def outbound(
    text: str = "안녕하세요, 주문하신 상품은 내일 출발합니다.",
    attachments: tuple[OutboundAttachment, ...] = (),
    key: str = "msg-1",
) -> OutboundMessage:
    return OutboundMessage(
        message_id=1,
        chat_id=1,
        idempotency_key=key,
        recipient=Contact(kind="naver", value=USER),
        thread_key=USER,
        text=text,
        attachments=attachments,
    )


def image_file(
    tmp_path: Path,
    data: bytes,
    name: str = "receipt.png",
    ctype: str = "image/png",
    media_base: str | None = None,
) -> OutboundAttachment:
    """An outbound attachment; its URL (as the core makes it) when ``media_base`` is given."""
    path = tmp_path / name
    path.write_bytes(data)
    url = f"{media_base}/media/{name}" if media_base else None
    return OutboundAttachment(filename=name, content_type=ctype, size=len(data), path=path, id=7, url=url)


def test_channel_declares_no_read_receipts_i19() -> None:
    """I19: Naver reports no reads, so the manager's message shows "sent", never "read"."""
    host = PluginHost()
    host.register(NaverPlugin(), "naver")
    spec = host.channel("naver").spec
    assert spec.capabilities.reports_reads is False
    assert spec.title == "Naver TalkTalk"
    assert spec.inbox_slot is InboxSlot.NAVER_TALKTALK  # P3: after Instagram, before LINE
    assert spec.capabilities.supports_images
    assert spec.closed_chat_policy == "reopen"
    assert spec.mark


async def test_text_reply_reaches_the_customer_as_sent(plugin: NaverPlugin, naver: TalkTalkSandbox) -> None:
    result = await plugin.bridgekit_deliver(integration(naver), outbound())
    assert result.status is DeliveryStatus.SENT  # never READ (I19)
    assert result.provider_message_id is None  # TalkTalk returns no message id
    assert naver.sends == [
        {
            "event": "send",
            "user": USER,
            "textContent": {"text": "안녕하세요, 주문하신 상품은 내일 출발합니다."},
        }
    ]
    [request] = naver.requests
    assert request.headers["authorization"] == KEY  # the raw key, no "Bearer"
    assert request.headers["content-type"] == "application/json;charset=UTF-8"
    assert plugin.bridgekit_bill(integration(naver), outbound(), result) is None


async def test_image_is_uploaded_first_then_sent_by_image_id(
    plugin: NaverPlugin, naver: TalkTalkSandbox, media_server: str, tmp_path: Path
) -> None:
    png = sample_png(4, 4)
    att = image_file(tmp_path, png, media_base=media_server)
    result = await plugin.bridgekit_deliver(integration(naver), outbound("영수증입니다", (att,)))
    [upload] = naver.uploads
    assert upload.data == png  # Naver downloaded exactly the stored file
    assert upload.content_type == "image/png"
    assert upload.image_url == att.url  # the core's signed URL, as given
    assert naver.sends == [
        {"event": "send", "user": USER, "textContent": {"text": "영수증입니다"}},
        {"event": "send", "user": USER, "imageContent": {"imageId": upload.image_id}},
    ]
    assert [r.endpoint for r in naver.requests] == ["event", "imageUpload", "event"]
    assert result.meta["image_ids"] == [upload.image_id]


async def test_image_without_a_public_url_is_refused_clearly(
    plugin: NaverPlugin, naver: TalkTalkSandbox, tmp_path: Path
) -> None:
    att = image_file(tmp_path, sample_png())
    with pytest.raises(PermanentDeliveryError, match="public_url"):
        await plugin.bridgekit_deliver(integration(naver), outbound("", (att,)))
    assert naver.sends == []


async def test_non_image_attachment_is_refused_before_anything_is_sent(
    plugin: NaverPlugin, naver: TalkTalkSandbox, tmp_path: Path
) -> None:
    pdf = image_file(tmp_path, b"%PDF-1.4", "invoice.pdf", "application/pdf")
    with pytest.raises(PermanentDeliveryError, match=r"invoice\.pdf"):
        await plugin.bridgekit_deliver(integration(naver), outbound("see attached", (pdf,)))
    assert naver.requests == []


@pytest.mark.parametrize(
    ("code", "message"),
    [("01", "Authorization 정보 오류"), ("02", "request json 문자열 파싱 오류"), ("99", "차단한 사용자")],
)
async def test_result_code_other_than_00_in_http_200_fails_with_naver_reason(
    plugin: NaverPlugin, naver: TalkTalkSandbox, code: str, message: str
) -> None:
    naver.fail_next(result_code=code, result_message=message)
    with pytest.raises(PermanentDeliveryError) as err:
        await plugin.bridgekit_deliver(integration(naver), outbound())
    assert f"resultCode {code}" in err.value.reason
    assert message in err.value.reason
    assert naver.sends == []


async def test_wrong_authorization_key_is_a_permanent_failure_naming_the_secret(
    plugin: NaverPlugin, naver: TalkTalkSandbox
) -> None:
    """Real sandbox check (no injection): the key is validated like Naver does."""
    with pytest.raises(PermanentDeliveryError, match="authorization_key") as err:
        await plugin.bridgekit_deliver(integration(naver, key="ct_stale"), outbound())
    assert "resultCode 01" in err.value.reason


async def test_undocumented_result_code_is_permanent_and_names_the_code(
    plugin: NaverPlugin, naver: TalkTalkSandbox
) -> None:
    naver.fail_next(result_code="X-42", result_message="새로운 오류")
    with pytest.raises(PermanentDeliveryError, match=r"resultCode X-42: 새로운 오류 \(undocumented"):
        await plugin.bridgekit_deliver(integration(naver), outbound())


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient(plugin: NaverPlugin, naver: TalkTalkSandbox, status: int) -> None:
    naver.fail_next(status=status)
    with pytest.raises(TransientDeliveryError, match=f"HTTP {status}"):
        await plugin.bridgekit_deliver(integration(naver), outbound())
    # The outbox retries: the next attempt goes through, once.
    await plugin.bridgekit_deliver(integration(naver), outbound())
    assert len(naver.sends) == 1


async def test_rate_limit_is_transient_with_retry_after(plugin: NaverPlugin, naver: TalkTalkSandbox) -> None:
    naver.fail_next(status=429, retry_after="7")
    with pytest.raises(TransientDeliveryError) as err:
        await plugin.bridgekit_deliver(integration(naver), outbound())
    assert err.value.retry_after == 7.0


async def test_other_4xx_is_permanent(plugin: NaverPlugin, naver: TalkTalkSandbox) -> None:
    naver.fail_next(status=404)
    with pytest.raises(PermanentDeliveryError, match="HTTP 404"):
        await plugin.bridgekit_deliver(integration(naver), outbound())


async def test_timeout_is_transient(
    plugin: NaverPlugin, naver: TalkTalkSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin._http, "timeout", 0.3)  # read when the session opens
    naver.fail_next(delay=1.0)
    with pytest.raises(TransientDeliveryError, match=r"timed out after 0\.3 s"):
        await plugin.bridgekit_deliver(integration(naver), outbound())


async def test_unreachable_api_is_transient(plugin: NaverPlugin, naver: TalkTalkSandbox) -> None:
    broken = Integration(
        id=3,
        name="acme",
        channel="naver",
        settings={"api_base": "http://127.0.0.1:9"},
        secrets={"authorization_key": KEY, "path_token": "pt"},
    )
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        await plugin.bridgekit_deliver(broken, outbound())


async def test_image_download_timeout_code_is_transient_others_permanent(
    plugin: NaverPlugin, naver: TalkTalkSandbox, media_server: str, tmp_path: Path
) -> None:
    att = image_file(tmp_path, sample_png(), media_base=media_server)
    naver.fail_next("imageUpload", result_code="IMG-02")
    with pytest.raises(TransientDeliveryError, match="IMG-02"):
        await plugin.bridgekit_deliver(integration(naver), outbound("", (att,), key="img"))
    naver.fail_next("imageUpload", result_code="IMG-03")
    with pytest.raises(PermanentDeliveryError, match="20 MB"):
        await plugin.bridgekit_deliver(integration(naver), outbound("", (att,), key="img2"))
    assert naver.sends == []


async def test_mislabelled_image_is_refused_by_naver_as_img_01(
    plugin: NaverPlugin, naver: TalkTalkSandbox, media_server: str, tmp_path: Path
) -> None:
    """The sandbox checks Content-Type against the bytes, as TalkTalk does."""
    fake = image_file(tmp_path, b"this is not a png", "fake.png", media_base=media_server)
    with pytest.raises(PermanentDeliveryError, match="IMG-01"):
        await plugin.bridgekit_deliver(integration(naver), outbound("", (fake,)))


async def test_text_over_10000_characters_is_split_not_truncated(
    plugin: NaverPlugin, naver: TalkTalkSandbox
) -> None:
    text = ("가나다라마바사 " * 1500).strip()  # 11,999 characters
    result = await plugin.bridgekit_deliver(integration(naver), outbound(text))
    chunks = [s["textContent"]["text"] for s in naver.sends]
    assert len(chunks) == 2
    # broken at a space, not inside a word: the space at the cut is dropped, nothing else
    assert " ".join(chunks) == text
    assert all(len(c) <= 10_000 for c in chunks)
    assert result.meta["parts"] == 2


async def test_retry_after_partial_failure_does_not_resend_what_went_out(
    plugin: NaverPlugin, naver: TalkTalkSandbox
) -> None:
    text = "a" * 10_000 + "b" * 10
    row = KeptProgress()
    naver.fail_next(status=503, after=1)  # the first chunk goes out, the second hits a 503
    with pytest.raises(TransientDeliveryError, match="1 of 2 parts had been sent"):
        await plugin.bridgekit_deliver(integration(naver), row.attempt(outbound(text, key="long")))
    restarted = NaverPlugin()  # the progress is on the outbox row, not in the plugin's memory
    try:
        await restarted.bridgekit_deliver(integration(naver), row.attempt(outbound(text, key="long")))
    finally:
        await restarted.aclose()
    assert [s["textContent"]["text"] for s in naver.sends] == ["a" * 10_000, "b" * 10]


async def test_sandbox_refuses_text_over_the_limit_like_naver(naver: TalkTalkSandbox) -> None:
    """The sandbox itself enforces the documented 10,000-character limit."""
    client = naver.client()
    body = {"event": "send", "user": USER, "textContent": {"text": "x" * 10_001}}
    async with client.post(
        f"{naver.api_base}/chatbot/v1/event", data=json.dumps(body), headers={"Authorization": KEY}
    ) as resp:
        assert resp.status == 200
        reply = await resp.json()
    assert reply["success"] is False
    assert reply["resultCode"] == "99"
    assert naver.sends == []


async def test_missing_authorization_key_is_a_clear_permanent_failure(
    plugin: NaverPlugin, naver: TalkTalkSandbox
) -> None:
    bare = Integration(id=3, name="acme", channel="naver", settings={"api_base": naver.api_base})
    with pytest.raises(PermanentDeliveryError, match="authorization_key"):
        await plugin.bridgekit_deliver(bare, outbound())
    assert naver.requests == []
