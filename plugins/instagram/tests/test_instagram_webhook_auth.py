"""Webhook authentication: Meta's hub.challenge handshake and X-Hub-Signature-256 (P1, P2).

A forged or tampered delivery must be refused before anything in it is looked at; the
handshake must echo Meta's challenge verbatim or Meta will not subscribe the URL.
"""

from __future__ import annotations

import json

import pytest
from bridgekit_instagram.plugin import InstagramPlugin
from bridgekit_instagram.sandbox import MetaSandbox
from bridgekit_instagram.signature import sign
from ig_helpers import integration_for, raw_post, webhook

from bridgekit.exceptions import MalformedDelivery, SignatureError
from bridgekit.model import Integration, RawDelivery


def handshake(token: str, *, mode: str = "subscribe", challenge: str = "1158201444") -> RawDelivery:
    query = {"hub.mode": mode, "hub.challenge": challenge, "hub.verify_token": token}
    return RawDelivery(
        integration="acme", method="GET", path="/hooks/acme", headers={}, query=query, body=b""
    )


async def test_p1_handshake_echoes_challenge_verbatim_as_text(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    result = await ig_plugin.bridgekit_ingest(integration, handshake(meta.verify_token, challenge="0042"))
    assert result.response is not None
    assert result.response.status == 200
    assert result.response.body == "0042"  # verbatim, leading zeros kept
    assert result.response.content_type == "text/plain"
    assert not result.messages


@pytest.mark.parametrize(
    ("token", "mode"),
    [("wrong-token", "subscribe"), ("", "subscribe"), ("sandbox-verify-token", "unsubscribe")],
)
async def test_p1_handshake_with_wrong_token_or_mode_is_refused(
    ig_plugin: InstagramPlugin, integration: Integration, token: str, mode: str
) -> None:
    with pytest.raises(SignatureError):
        await ig_plugin.bridgekit_ingest(integration, handshake(token, mode=mode))


async def test_p1_handshake_refused_when_integration_has_no_verify_token(
    ig_plugin: InstagramPlugin, meta: MetaSandbox
) -> None:
    bare = integration_for(meta, secrets={"app_secret": meta.app_secret})
    with pytest.raises(SignatureError, match="verify_token"):
        await ig_plugin.bridgekit_ingest(bare, handshake(""))


async def test_p1_correctly_signed_webhook_is_accepted(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    result = await ig_plugin.bridgekit_ingest(integration, webhook(meta, meta.text_event("IGSID-1", "hi")))
    assert [m.text for m in result.messages] == ["hi"]


@pytest.mark.parametrize(
    "signature",
    [
        None,  # header missing
        "",
        "sha256=" + "0" * 64,
        "sha1=0123456789abcdef0123456789abcdef01234567",
        "sha256=not-hex-at-all-\u00e9",
    ],
)
async def test_p1_missing_or_bad_signature_is_refused(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox, signature: str | None
) -> None:
    body = meta.encode(meta.envelope(meta.text_event("IGSID-1", "hi")))
    with pytest.raises(SignatureError):
        await ig_plugin.bridgekit_ingest(integration, raw_post(body, signature))


async def test_p1_signature_from_another_app_secret_is_refused(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    body = meta.encode(meta.envelope(meta.text_event("IGSID-1", "hi")))
    with pytest.raises(SignatureError):
        await ig_plugin.bridgekit_ingest(integration, raw_post(body, sign("someone-elses-secret", body)))


async def test_p1_tampered_body_is_refused(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    body = meta.encode(meta.envelope(meta.text_event("IGSID-1", "refund 10")))
    signature = meta.sign(body)
    tampered = body.replace(b"refund 10", b"refund 99")
    with pytest.raises(SignatureError):
        await ig_plugin.bridgekit_ingest(integration, raw_post(tampered, signature))


async def test_p1_signature_is_over_raw_bytes_not_reserialised_json(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    """Meta escapes non-ASCII (\\u00e9) and '/': the received bytes differ from any
    re-serialisation, so only verifying the raw bytes accepts Meta's real deliveries."""
    event = meta.text_event("IGSID-1", "Caf\u00e9 한국어 https://x.example/a")
    body = meta.encode(meta.envelope(event))
    assert b"\\u00e9" in body
    assert b"\\/" in body
    decoded = json.loads(body)
    reserialised = [
        json.dumps(decoded).encode(),
        json.dumps(decoded, ensure_ascii=False).encode(),
        json.dumps(decoded, separators=(",", ":"), ensure_ascii=False).encode(),
    ]
    assert all(r != body for r in reserialised)

    result = await ig_plugin.bridgekit_ingest(integration, raw_post(body, meta.sign(body)))
    assert result.messages[0].text == "Caf\u00e9 한국어 https://x.example/a"

    # a signature computed over a re-serialisation does not verify the delivered bytes
    with pytest.raises(SignatureError):
        await ig_plugin.bridgekit_ingest(integration, raw_post(body, meta.sign(reserialised[1])))


async def test_p1_signature_checked_before_parsing(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    """Garbage with a bad signature is a 401 (nothing kept), not a 400 (kept raw)."""
    with pytest.raises(SignatureError):
        await ig_plugin.bridgekit_ingest(integration, raw_post(b"{not json", "sha256=" + "a" * 64))
    with pytest.raises(MalformedDelivery):
        await ig_plugin.bridgekit_ingest(integration, raw_post(b"{not json", meta.sign(b"{not json")))


async def test_p1_webhook_refused_when_integration_has_no_app_secret(
    ig_plugin: InstagramPlugin, meta: MetaSandbox
) -> None:
    bare = integration_for(meta, secrets={"verify_token": meta.verify_token})
    with pytest.raises(SignatureError, match="app_secret"):
        await ig_plugin.bridgekit_ingest(bare, webhook(meta, meta.text_event("IGSID-1", "hi")))
