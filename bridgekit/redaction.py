"""One redaction for every error the server stores or logs: no secret leaves in an error.

:func:`redact` (exported to plugins as ``bridgekit.redact``) replaces

* the value of every URL/query/form parameter or JSON member whose name says it is a
  secret (``access_token=…``, ``"password": "…"``; see :data:`SECRET_PARAMS`) and of
  ``Bearer``/``Basic`` credentials,
* the user-info part of URLs (``https://user:pass@host``),
* every secret value of every loaded integration (:func:`remember_secrets`, called when the
  integrations are loaded), also in its URL-encoded form,

with ``[redacted]``. The outbox applies it to ``last_error``/``delivery_error`` before storing
them, and :func:`install_log_redaction` applies it to every log record (message, arguments,
traceback) when it is created, so plugins have nothing to do.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"

SECRET_PARAMS = (
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "app_secret",
    "appsecret_proof",
    "api_key",
    "apikey",
    "authorization",
    "key",
    "password",
    "passwd",
    "secret",
    "sig",
    "signature",
    "token",
    "verify_token",
    "hub.verify_token",
    "path_token",
)
"""Parameter names whose values are secrets wherever they appear (``name=value``); a name
ending in one of them (``x_api_key``, ``channel_secret``) counts too."""

MIN_SECRET_LENGTH = 6
"""Shorter configured values are not searched for: they would redact ordinary words."""

_NAMES = (
    r"(?:[A-Za-z0-9_.\-]*[_.\-])?(?:"
    + "|".join(re.escape(name) for name in sorted(SECRET_PARAMS, key=len, reverse=True))
    + ")"
)
_PARAM = re.compile(rf"(?i)(?<![A-Za-z0-9])({_NAMES})(=|%3D)(?!\[redacted\])([^&\s'\"<>#;,)\]}}]+)")
_JSON_PARAM = re.compile(rf'(?i)("{_NAMES}"\s*:\s*)"(?!\[redacted\])(?:[^"\\]|\\.)*"')
_SECRET_NAME = re.compile(rf"(?i){_NAMES}")
_AUTH_SCHEME = re.compile(r"\b(Bearer|bearer|Basic)\s+(?!\[redacted\])[A-Za-z0-9._~+/=\-]{6,}")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@'\"<>]+@")

_lock = threading.Lock()
_known: set[str] = set()
_known_pattern: re.Pattern[str] | None = None


def remember_secrets(values: Iterable[str]) -> None:
    """Add configured secret values that :func:`redact` must never let through."""
    global _known_pattern
    new = {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH}
    with _lock:
        if new <= _known:
            return
        _known.update(new)
        variants = {form for v in _known for form in (v, quote(v, safe=""), quote_plus(v))}
        # longest first, so a secret that contains another is replaced whole
        _known_pattern = re.compile("|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True)))


def is_secret_name(name: str) -> bool:
    """Whether a parameter called ``name`` holds a secret (:data:`SECRET_PARAMS`, also as the
    end of a longer name such as ``channel_secret``): what :func:`redact` hides in text and
    the raw delivery store hides in a webhook's query string."""
    return _SECRET_NAME.fullmatch(name) is not None


def redact(text: str) -> str:
    """``text`` without secret parameters, URL passwords or any known secret value."""
    pattern = _known_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    text = _PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _JSON_PARAM.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


_installed = False


def install_log_redaction() -> None:
    """Redact every log record as it is created (idempotent; wraps the record factory).

    A factory rather than a filter: logger filters do not apply to child loggers and
    handlers (a test's ``caplog``, a plugin's own) are not all ours.
    """
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: let logging report it as usual
        return
    record.msg, record.args = redact(message), ()
    if record.exc_info and record.exc_info[0] is not None:
        # the formatted traceback replaces the exception: its text may hold a URL with a token
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
