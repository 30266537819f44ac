"""The channel toolkit: the parts every messenger plugin needs, written once.

A plugin should be mostly its provider's wire format (verify, parse, deliver); the
machinery around it comes from here::

    from bridgekit.channelkit import ProviderSession, fetch_media, split_text, UTF16_UNITS

* :mod:`~bridgekit.channelkit.errors`: ``Retry-After`` and HTTP status -> transient or
  permanent delivery error.
* :mod:`~bridgekit.channelkit.http`: the provider HTTP session; no answer -> delivery error;
  size-capped media download.
* :mod:`~bridgekit.channelkit.textsplit`: grapheme-safe splitting in the provider's unit.
* :mod:`~bridgekit.channelkit.cache`: a bounded cache with a time-to-live per entry.
* :mod:`~bridgekit.channelkit.parts`: multi-part sends that resume after the last part sent.
* :mod:`~bridgekit.channelkit.settings`: an integration's settings and secrets, declared once
  and checked at start-up.
* :mod:`~bridgekit.channelkit.sandbox`: the lifecycle of a provider sandbox server.
* :mod:`~bridgekit.channelkit.tasks`: a background loop started and stopped with the bridge
  (on the elected process only, when several share a database).
* :mod:`~bridgekit.channelkit.listening`: a plugin's own listening socket under
  ``serve --workers N`` (SO_REUSEPORT).
* :mod:`~bridgekit.channelkit.localstore`: a plugin's own small SQLite file for its state.
* :mod:`~bridgekit.channelkit.plugin`: a channel plugin's declaration of its channels and its
  provider session closed at shutdown, written once (``HttpChannelPlugin``).
* :mod:`~bridgekit.channelkit.adrules`: Korean advertising rules: the ``(광고)`` marker and
  the night an ad may not be sent (SMS, Kakao brand messages).

Documented in ``docs/hooks.md``, "Channel toolkit".
"""

from __future__ import annotations

from bridgekit.channelkit.adrules import AD_PREFIX, KST, QuietHours, is_ad, marked_ad
from bridgekit.channelkit.cache import TTLCache
from bridgekit.channelkit.errors import NotSent, is_transient_status, parse_retry_after, status_error
from bridgekit.channelkit.http import (
    FetchedMedia,
    MediaTooLarge,
    MediaUnavailable,
    ProviderSession,
    fetch_media,
    transport_errors,
)
from bridgekit.channelkit.listening import shares_port
from bridgekit.channelkit.localstore import LocalStore
from bridgekit.channelkit.parts import PARTS_SENT, parts_sent, send_parts
from bridgekit.channelkit.plugin import HttpChannelPlugin
from bridgekit.channelkit.sandbox import HttpSandbox, SandboxServer
from bridgekit.channelkit.settings import ChannelSettings, HttpUrl, InvalidSetting, Secret
from bridgekit.channelkit.tasks import BackgroundTask
from bridgekit.channelkit.textsplit import split_text
from bridgekit.text_units import CHARACTERS, UTF8_BYTES, UTF16_UNITS, TextUnit, bytes_in, text_length

__all__ = [
    "AD_PREFIX",
    "CHARACTERS",
    "KST",
    "PARTS_SENT",
    "UTF8_BYTES",
    "UTF16_UNITS",
    "BackgroundTask",
    "ChannelSettings",
    "FetchedMedia",
    "HttpChannelPlugin",
    "HttpSandbox",
    "HttpUrl",
    "InvalidSetting",
    "LocalStore",
    "MediaTooLarge",
    "MediaUnavailable",
    "NotSent",
    "ProviderSession",
    "QuietHours",
    "SandboxServer",
    "Secret",
    "TTLCache",
    "TextUnit",
    "bytes_in",
    "fetch_media",
    "is_ad",
    "is_transient_status",
    "marked_ad",
    "parse_retry_after",
    "parts_sent",
    "send_parts",
    "shares_port",
    "split_text",
    "status_error",
    "text_length",
    "transport_errors",
]
