"""Composer extras stored in a message's ``meta`` (I15): link buttons and input forms.

Link buttons: at most three ``{"text", "url", "colour"}`` with http(s) URLs. Input forms:
``{"fields": [{"key", "label", "type", "required"?}]}`` with types text, email, phone and
number; the customer's answers are checked against those types before they are saved to the
customer's profile.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

from bridgekit.exceptions import RequestRefused
from bridgekit.storage.storable import storable

MAX_BUTTONS = 3
MAX_FIELDS = 20
FIELD_TYPES = ("text", "email", "phone", "number")
DEFAULT_COLOUR = "blue"
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
COLOUR_RE = re.compile(r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|[a-z]{3,20})$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
PHONE_CHARS_RE = re.compile(r"^\+?[0-9 ()./-]+$")
MAX_ANSWER = 1000


class FormError(RequestRefused):
    """A button, form or answer is invalid (answered 400)."""


def is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in value)


def validate_buttons(value: object) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise FormError("buttons must be a list")
    if len(value) > MAX_BUTTONS:
        raise FormError(f"at most {MAX_BUTTONS} link buttons per message")
    buttons = []
    for n, item in enumerate(value, 1):
        if not isinstance(item, dict):
            raise FormError(f"button {n} must be an object with text, url and colour")
        text, url = item.get("text"), item.get("url")
        colour = item.get("colour", DEFAULT_COLOUR)
        if not isinstance(text, str) or not text.strip() or len(text) > 100:
            raise FormError(f"button {n} needs a text of 1-100 characters")
        if not isinstance(url, str) or len(url) > 2000 or not is_web_url(url):
            raise FormError(f"button {n} needs an http(s) URL")
        if not isinstance(colour, str) or not COLOUR_RE.match(colour):
            raise FormError(f"button {n} colour must be a colour name or #rrggbb")
        buttons.append({"text": text.strip(), "url": url, "colour": colour})
    return buttons


def validate_form(value: object) -> dict[str, Any]:
    fields = value.get("fields") if isinstance(value, dict) else None
    if not isinstance(fields, list) or not fields:
        raise FormError("form must be an object with a non-empty fields list")
    if len(fields) > MAX_FIELDS:
        raise FormError(f"a form has at most {MAX_FIELDS} fields")
    seen: set[str] = set()
    clean = []
    for n, item in enumerate(fields, 1):
        if not isinstance(item, dict):
            raise FormError(f"form field {n} must be an object with key, label and type")
        key, label, kind = item.get("key"), item.get("label"), item.get("type")
        required = item.get("required", False)
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise FormError(f"form field {n} needs a key of letters, digits, '_', '.' or '-'")
        if key in seen:
            raise FormError(f"form field key {key!r} is used twice")
        seen.add(key)
        if not isinstance(label, str) or not label.strip() or len(label) > 200:
            raise FormError(f"form field {key!r} needs a label of 1-200 characters")
        if kind not in FIELD_TYPES:
            raise FormError(f"form field {key!r} type must be one of {', '.join(FIELD_TYPES)}")
        if not isinstance(required, bool):
            raise FormError(f"form field {key!r} required must be true or false")
        clean.append({"key": key, "label": label.strip(), "type": kind, "required": required})
    return {"fields": clean}


def normalise_phone(value: str) -> str:
    """Digits, keeping a leading '+' (the form a shared phone contact is stored in)."""
    digits = re.sub(r"\D", "", value)
    return ("+" if value.strip().startswith("+") else "") + digits


def validate_answers(form: dict[str, Any], answers: object) -> dict[str, Any]:
    """The answers, typed (numbers as numbers, phones normalised); raises FormError."""
    if not isinstance(answers, dict):
        raise FormError("answers must be an object of field key to answer")
    fields = {f["key"]: f for f in form.get("fields", [])}
    unknown = sorted(set(answers) - set(fields))
    if unknown:
        raise FormError(f"the form has no field {unknown[0]!r}")
    clean: dict[str, Any] = {}
    for key, field in fields.items():
        raw = answers.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if field.get("required"):
                raise FormError(f"{field['label']} is required")
            continue
        clean[key] = _typed(field, raw)
    if not clean:
        raise FormError("answer at least one field")
    return clean


def _typed(field: dict[str, Any], raw: object) -> Any:
    label, kind = field["label"], field["type"]
    if kind == "number":
        if isinstance(raw, bool):
            raise FormError(f"{label} must be a number")
        if isinstance(raw, int | float):
            if not math.isfinite(raw):
                raise FormError(f"{label} must be a number")
            return raw
        if isinstance(raw, str):
            try:
                number = float(raw.strip())
            except ValueError:
                raise FormError(f"{label} must be a number") from None
            if not math.isfinite(number):
                raise FormError(f"{label} must be a number")
            return int(number) if number.is_integer() and "." not in raw else number
        raise FormError(f"{label} must be a number")
    if not isinstance(raw, str) or not storable(raw):
        raise FormError(f"{label} must be text")
    value = raw.strip()
    if len(value) > MAX_ANSWER:
        raise FormError(f"{label} is longer than {MAX_ANSWER} characters")
    if kind == "email":
        if not EMAIL_RE.match(value):
            raise FormError(f"{label} must be an email address")
        return value
    if kind == "phone":
        digits = normalise_phone(value)
        if not PHONE_CHARS_RE.match(value) or not 6 <= len(digits.lstrip("+")) <= 20:
            raise FormError(f"{label} must be a phone number")
        return digits
    return value
