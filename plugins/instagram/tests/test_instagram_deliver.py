"""Manager replies reach the customer through the Send API, within Meta's windows (I13).

All sends go over real HTTP to the sandbox, which enforces Meta's rules itself: if the
plugin got a rule wrong, the sandbox would refuse like Meta does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from bridgekit_instagram.client import GraphClient
from bridgekit_instagram.config import InstagramConfig
from bridgekit_instagram.plugin import SPEC, InstagramPlugin
from bridgekit_instagram.sandbox import MetaSandbox
from ig_helpers import HOUR_MS, integration_for, now_ms, outbound

from bridgekit.exceptions import PermanentDeliveryError, TransientDeliveryError
from bridgekit.model import DeliveryResult, DeliveryStatus, Integration, OutboundAttachment
from bridgekit.testing.progress import KeptProgress

KOREAN = "안녕하세요 고객님, 주문하신 상품은 내일 출고됩니다."


def customer_wrote(meta: MetaSandbox, igsid: str, hours_ago: float) -> int:
    stamp = now_ms() - int(hours_ago * HOUR_MS)
    meta.customer_activity[igsid] = stamp
    return stamp


async def test_reply_within_24h_is_a_plain_response(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    last = customer_wrote(meta, "U1", hours_ago=2)
    result = await ig_plugin.bridgekit_deliver(
        integration, outbound("U1", "Your order shipped", last_customer_ms=last)
    )
    (sent,) = meta.sent
    assert sent.recipient_id == "U1"
    assert sent.text == "Your order shipped"
    assert sent.messaging_type == "RESPONSE"
    assert sent.tag is None
    assert result.provider_message_id == sent.message_id
    assert result.status is DeliveryStatus.SENT
    # the token went as a bearer header, not in the URL
    assert meta.send_requests[0]["authorization"] == f"Bearer {meta.access_token}"
    assert "access_token" not in meta.send_requests[0]["query"]


async def test_reply_between_24h_and_7d_uses_human_agent_tag(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    last = customer_wrote(meta, "U1", hours_ago=30)
    result = await ig_plugin.bridgekit_deliver(
        integration, outbound("U1", "Sorry for the wait", last_customer_ms=last)
    )
    (sent,) = meta.sent
    assert (sent.messaging_type, sent.tag) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert result.meta["tag"] == "HUMAN_AGENT"


async def test_reply_after_7_days_is_refused_without_calling_meta(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    last = customer_wrote(meta, "U1", hours_ago=8 * 24)
    with pytest.raises(PermanentDeliveryError, match="7 days"):
        await ig_plugin.bridgekit_deliver(integration, outbound("U1", "hello?", last_customer_ms=last))
    assert meta.send_requests == []
    assert meta.sent == []


async def test_human_agent_switched_off_refuses_after_24h_without_calling_meta(
    ig_plugin: InstagramPlugin, meta: MetaSandbox
) -> None:
    integration = integration_for(meta, human_agent_tag=False)
    last = customer_wrote(meta, "U1", hours_ago=25)
    with pytest.raises(PermanentDeliveryError, match="24 hours"):
        await ig_plugin.bridgekit_deliver(integration, outbound("U1", "hello?", last_customer_ms=last))
    assert meta.send_requests == []


async def test_meta_window_refusal_is_permanent_with_metas_reason(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    """Our context said 'recent' but Meta knows better (clock skew, lost context):
    Meta's code 10 / 2018278 must fail the message with Meta's words, not be retried."""
    customer_wrote(meta, "U1", hours_ago=200)
    with pytest.raises(PermanentDeliveryError) as caught:
        await ig_plugin.bridgekit_deliver(integration, outbound("U1", "hi", last_customer_ms=now_ms()))
    assert "10/2018278" in caught.value.reason
    assert "outside of allowed window" in caught.value.reason


async def test_korean_text_over_1000_bytes_is_split_on_safe_boundaries(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    last = customer_wrote(meta, "U1", hours_ago=1)
    text = "\n".join(f"{i}. {KOREAN}" for i in range(40))  # ~3.8 kB of mostly 3-byte Hangul
    assert len(text.encode()) > 3000
    result = await ig_plugin.bridgekit_deliver(integration, outbound("U1", text, last_customer_ms=last))
    assert len(meta.sent) >= 4
    for sent in meta.sent:
        assert sent.text is not None
        assert len(sent.text.encode("utf-8")) <= 1000
        assert sent.text == sent.text.strip()
    # nothing lost or reordered: only the line breaks we cut at are gone
    assert "\n".join(s.text or "" for s in meta.sent) == text
    assert result.meta["message_ids"] == [s.message_id for s in meta.sent]
    assert result.provider_message_id == meta.sent[-1].message_id


async def test_sandbox_enforces_metas_1000_byte_limit_with_metas_error(
    ig_plugin: InstagramPlugin, meta: MetaSandbox
) -> None:
    """What Meta answers to 1,001 bytes (proves the split above is needed)."""
    customer_wrote(meta, "U1", hours_ago=1)
    client = GraphClient(ig_plugin._http.get(), InstagramConfig.from_integration(integration_for(meta)))
    with pytest.raises(
        PermanentDeliveryError, match=r"Length of param message\[text\] must be less than or equal to 1000"
    ):
        await client.send({"recipient": {"id": "U1"}, "message": {"text": "가" * 334}})


async def test_multi_part_send_resumes_after_transient_failure_without_duplicates(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    last = customer_wrote(meta, "U1", hours_ago=1)
    text = " ".join([KOREAN] * 30)
    message = outbound("U1", text, last_customer_ms=last, key="retry-me")
    row = KeptProgress()

    meta.fail_next("server_error", after=1)  # the second part fails

    with pytest.raises(TransientDeliveryError, match="1 of"):
        await ig_plugin.bridgekit_deliver(integration, row.attempt(message))
    assert len(meta.sent) == 1
    restarted = InstagramPlugin()  # the progress is on the outbox row, not in the plugin's memory
    try:
        result = await restarted.bridgekit_deliver(integration, row.attempt(message))  # the outbox's retry
    finally:
        await restarted.aclose()
    texts = [s.text for s in meta.sent]
    assert len(texts) == len(set(texts)) == result.meta["parts"]
    assert " ".join(t or "" for t in texts) == text
    assert result.meta["message_ids"] == [s.message_id for s in meta.sent]  # the first part's id was kept


@pytest.mark.parametrize(
    ("kind", "options", "retry_after"),
    [
        ("server_error", {}, None),
        ("rate_limit", {"code": 613, "regain_minutes": 3}, 180.0),
        ("rate_limit", {"code": 4}, 60.0),
        ("rate_limit", {"code": 80002, "regain_minutes": 0, "retry_after": 12}, 12.0),
        ("http_429", {"retry_after": 7}, 7.0),
        ("error", {"code": 1200, "message": "Temporary send message failure. Please try again later"}, None),
    ],
)
async def test_server_errors_and_throttling_are_transient(
    ig_plugin: InstagramPlugin,
    integration: Integration,
    meta: MetaSandbox,
    kind: str,
    options: dict[str, Any],
    retry_after: float | None,
) -> None:
    last = customer_wrote(meta, "U1", hours_ago=1)
    meta.fail_next(kind, **options)
    with pytest.raises(TransientDeliveryError) as caught:
        await ig_plugin.bridgekit_deliver(integration, outbound("U1", "hi", last_customer_ms=last))
    assert caught.value.retry_after == retry_after
    assert meta.sent == []
    # and the retry goes through once Meta recovers
    result = await ig_plugin.bridgekit_deliver(integration, outbound("U1", "hi", last_customer_ms=last))
    assert result.provider_message_id == meta.sent[0].message_id


async def test_timeout_is_transient(ig_plugin: InstagramPlugin, meta: MetaSandbox) -> None:
    integration = integration_for(meta, timeout_seconds=0.3)
    last = customer_wrote(meta, "U1", hours_ago=1)
    meta.fail_next("timeout", delay=5)
    with pytest.raises(TransientDeliveryError, match="timed out"):
        await ig_plugin.bridgekit_deliver(integration, outbound("U1", "hi", last_customer_ms=last))


async def test_unreachable_graph_api_is_transient(ig_plugin: InstagramPlugin, meta: MetaSandbox) -> None:
    integration = integration_for(meta)
    await meta.stop()
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        await ig_plugin.bridgekit_deliver(integration, outbound("U1", "hi", last_customer_ms=now_ms()))


@pytest.mark.parametrize(
    ("code", "subcode", "message", "expected"),
    [
        (551, 1545041, "This person isn't available right now.", "not available"),
        (10, 2018278, "(#10) This message is sent outside of allowed window.", "outside of allowed window"),
        (100, 2018001, "(#100) No matching user found", "No matching user found"),
        (200, None, "(#200) Requires instagram_manage_messages permission", "instagram_manage_messages"),
    ],
)
async def test_permanent_meta_errors_fail_with_metas_reason(
    ig_plugin: InstagramPlugin,
    integration: Integration,
    meta: MetaSandbox,
    code: int,
    subcode: int | None,
    message: str,
    expected: str,
) -> None:
    last = customer_wrote(meta, "U1", hours_ago=1)
    meta.fail_next("error", code=code, subcode=subcode, message=message)
    with pytest.raises(PermanentDeliveryError) as caught:
        await ig_plugin.bridgekit_deliver(integration, outbound("U1", "hi", last_customer_ms=last))
    assert expected in caught.value.reason
    assert "fbtrace_id" in caught.value.reason


async def test_bad_access_token_is_permanent(ig_plugin: InstagramPlugin, meta: MetaSandbox) -> None:
    secrets = {"app_secret": meta.app_secret, "verify_token": meta.verify_token, "access_token": "expired"}
    integration = integration_for(meta, secrets=secrets)
    last = customer_wrote(meta, "U1", hours_ago=1)
    with pytest.raises(PermanentDeliveryError, match=r"190.*reconnect"):
        await ig_plugin.bridgekit_deliver(integration, outbound("U1", "hi", last_customer_ms=last))


async def test_query_token_and_appsecret_proof_for_facebook_login_flow(
    ig_plugin: InstagramPlugin, meta: MetaSandbox
) -> None:
    integration = integration_for(meta, auth="query", appsecret_proof=True, ig_user_id="me")
    last = customer_wrote(meta, "U1", hours_ago=1)
    await ig_plugin.bridgekit_deliver(integration, outbound("U1", "hi", last_customer_ms=last))
    request = meta.send_requests[0]
    assert request["node"] == "me"
    assert request["query"]["access_token"] == meta.access_token
    assert len(request["query"]["appsecret_proof"]) == 64
    assert request["authorization"] is None


async def test_missing_access_token_is_refused_clearly(ig_plugin: InstagramPlugin, meta: MetaSandbox) -> None:
    integration = integration_for(meta, secrets={"app_secret": "x"})
    with pytest.raises(PermanentDeliveryError, match="access_token"):
        await ig_plugin.bridgekit_deliver(integration, outbound("U1", "hi", last_customer_ms=now_ms()))
    assert meta.send_requests == []


async def media_server(aiohttp_server: Any, folder: Path) -> str:
    """Stands in for bridgekit's ``/media/...`` route (tested in tests/core/test_media_urls.py
    and through a running bridge in test_instagram_e2e.py): serves ``folder``'s files."""

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=(folder / request.match_info["name"]).read_bytes(), content_type="image/png")

    app = web.Application()
    app.router.add_get("/media/{name}", serve)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def test_image_attachment_is_sent_by_the_core_media_url_meta_can_fetch(
    ig_plugin: InstagramPlugin,
    integration: Integration,
    meta: MetaSandbox,
    aiohttp_server: Any,
    tmp_path: Path,
) -> None:
    public = await media_server(aiohttp_server, tmp_path)
    picture = tmp_path / "receipt.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\nreceipt")
    attachment = OutboundAttachment(
        "receipt.png", "image/png", picture.stat().st_size, picture, id=5, url=f"{public}/media/receipt.png"
    )
    last = customer_wrote(meta, "U1", hours_ago=1)
    result = await ig_plugin.bridgekit_deliver(
        integration, outbound("U1", "Here is your receipt", last_customer_ms=last, attachments=(attachment,))
    )
    text, image = meta.sent
    assert text.text == "Here is your receipt"
    assert image.attachment_type == "image"
    assert image.attachment_url == attachment.url
    assert image.attachment_content == picture.read_bytes()  # Meta could download it
    assert result.provider_message_id == image.message_id


async def test_attachment_without_public_url_is_refused_before_any_call(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox, tmp_path: Path
) -> None:
    picture = tmp_path / "a.png"
    picture.write_bytes(b"png")
    attachment = OutboundAttachment("a.png", "image/png", 3, picture, id=5, url=None)
    with pytest.raises(PermanentDeliveryError, match="public_url"):
        await ig_plugin.bridgekit_deliver(
            integration, outbound("U1", "see", last_customer_ms=now_ms(), attachments=(attachment,))
        )
    assert meta.send_requests == []


async def test_oversized_image_is_refused_before_any_call(
    ig_plugin: InstagramPlugin, meta: MetaSandbox, tmp_path: Path
) -> None:
    integration = integration_for(meta)
    attachment = OutboundAttachment(
        "huge.png", "image/png", 9 * 1024 * 1024, tmp_path / "huge.png", id=5, url="https://bridge.example/m"
    )
    with pytest.raises(PermanentDeliveryError, match="8 MB"):
        await ig_plugin.bridgekit_deliver(
            integration, outbound("U1", "", last_customer_ms=now_ms(), attachments=(attachment,))
        )
    assert meta.send_requests == []


async def test_empty_message_is_refused(ig_plugin: InstagramPlugin, integration: Integration) -> None:
    with pytest.raises(PermanentDeliveryError, match="nothing to send"):
        await ig_plugin.bridgekit_deliver(integration, outbound("U1", "  \n ", last_customer_ms=now_ms()))


def test_instagram_sends_are_not_billed(ig_plugin: InstagramPlugin, integration: Integration) -> None:
    assert ig_plugin.bridgekit_bill(integration, outbound("U1", "hi"), DeliveryResult("m")) is None


def test_p3_i19_channel_declaration() -> None:
    assert SPEC.name == "instagram"
    assert SPEC.title == "Instagram"
    assert SPEC.inbox_slot.name == "INSTAGRAM"
    assert SPEC.capabilities.reports_reads is True
    assert SPEC.capabilities.supports_images is True
    assert SPEC.capabilities.max_text_bytes == 1000
    assert SPEC.closed_chat_policy == "reopen"
    assert SPEC.mark
