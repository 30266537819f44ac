"""Helpers shared by the Instagram plugin tests (builders for integrations and deliveries)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from bridgekit_instagram.sandbox import MetaSandbox

from bridgekit.model import Contact, Integration, OutboundMessage, RawDelivery

HOUR_MS = 3600 * 1000


def settings_for(meta: MetaSandbox, **extra: Any) -> dict[str, Any]:
    return {"graph_base": meta.url, "ig_user_id": meta.ig_user_id, "timeout_seconds": 2, **extra}


def secrets_for(meta: MetaSandbox) -> dict[str, str]:
    return {
        "app_secret": meta.app_secret,
        "verify_token": meta.verify_token,
        "access_token": meta.access_token,
    }


def integration_for(
    meta: MetaSandbox, *, secrets: Mapping[str, str] | None = None, **settings: Any
) -> Integration:
    return Integration(
        id=1,
        name="acme",
        channel="instagram",
        settings=settings_for(meta, **settings),
        secrets=dict(secrets if secrets is not None else secrets_for(meta)),
    )


def webhook(meta: MetaSandbox, *events: Mapping[str, Any], signature: str | None = None) -> RawDelivery:
    """A POST delivery exactly as bridgekit's web layer hands it to the plugin."""
    body = meta.encode(meta.envelope(*events))
    return raw_post(body, meta.sign(body) if signature is None else signature)


def raw_post(body: bytes, signature: str | None) -> RawDelivery:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return RawDelivery(
        integration="acme", method="POST", path="/hooks/acme", headers=headers, query={}, body=body
    )


def now_ms() -> int:
    return int(time.time() * 1000)


def outbound(
    igsid: str,
    text: str = "",
    *,
    last_customer_ms: int | None = None,
    key: str = "k-1",
    attachments: tuple[Any, ...] = (),
) -> OutboundMessage:
    context = {"timestamp": last_customer_ms} if last_customer_ms is not None else {}
    return OutboundMessage(
        message_id=1,
        chat_id=1,
        idempotency_key=key,
        recipient=Contact("instagram", igsid, verified=True, shared=False),
        thread_key=igsid,
        text=text,
        attachments=attachments,
        reply_context=context,
    )
