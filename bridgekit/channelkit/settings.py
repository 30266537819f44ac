"""One way to declare a channel's integration settings and secrets, checked at start-up.

A plugin declares what ``[integrations.<name>.settings]`` and ``.secrets`` may hold as a
:class:`ChannelSettings` subclass, a frozen :mod:`msgspec` struct: each field's type, default
and bounds (``Annotated[float, Meta(ge=0)]``), with the secrets typed :data:`Secret`::

    class AcmeSettings(ChannelSettings, frozen=True, kw_only=True):
        api_base: HttpUrl = "https://api.acme.example"
        timeout: Annotated[float, Meta(gt=0)] = 10.0
        api_token: Secret                    # required: missing or empty is an error
        webhook_secret: Secret = ""          # optional

    settings = AcmeSettings.from_integration(integration)

``from_integration`` refuses unknown keys (a typo must not be ignored), wrongly typed values
and missing secrets with a :class:`~bridgekit.exceptions.ConfigError` that names the
integration, the key and what was expected, never a secret's value. The plugin calls it from
``bridgekit_check_integration`` so ``bridgekit serve`` stops before listening; its hooks
call it again per delivery, which costs a dictionary look-up: the result is kept per
integration object.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final, Literal, Self

import msgspec

from bridgekit.config import env_secret_name
from bridgekit.exceptions import ConfigError
from bridgekit.model import Integration

__all__ = ["ChannelSettings", "HttpUrl", "InvalidSetting", "Secret"]


class _SecretMarker:
    """Marks a field as a secret: read from ``secrets``, its value never in an error."""

    def __repr__(self) -> str:
        return "SECRET"


_SECRET: Final = _SecretMarker()

Secret = Annotated[str, _SECRET]
"""A secret (``[integrations.<name>.secrets]`` or its environment variable). Without a default
it is required and must not be empty; give it ``= ""`` to make it optional."""

_URL_PATTERN: Final = "^https?://[^ ]+$"  # no backslash: msgspec repeats it escaped
HttpUrl = Annotated[str, msgspec.Meta(pattern=_URL_PATTERN)]
"""A base URL of the provider's API (``http://`` for a sandbox)."""


class InvalidSetting(ValueError):
    """Raised from :meth:`ChannelSettings.checked` for a rule the types cannot say."""

    def __init__(self, key: str, expected: str) -> None:
        super().__init__(f"{key}: {expected}")
        self.key = key
        self.expected = expected


# msgspec's messages name the expected type and the path, never the value, except for an
# invalid enum (Literal) value, which is not allowed on secrets (they are plain strings).
_AT = re.compile(r"^(?P<what>.*?) - at `\$\.(?P<key>[^`.\[]+)(?P<rest>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>[^`]+)`")
_MISSING = re.compile(r"^Object missing required field `(?P<key>[^`]+)`")

_CACHE_SIZE: Final = 256


class ChannelSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of a channel's settings; subclass it with ``frozen=True, kw_only=True`` (see the
    module: mypy needs the first, required keys after defaulted ones the second)."""

    #: Names the channel in errors ("LINE integration 'acme': ..."); defaults to none.
    channel_title: ClassVar[str] = ""

    # The last few integrations' settings by identity, one table per declaration: the core
    # builds an Integration once when it loads the configuration and hands the same object to
    # every hook call, so a delivery pays a dictionary look-up, not a validation. Bounded:
    # tests build integrations by the thousand. The integration is kept so its id stays its.
    _kept: ClassVar[dict[int, tuple[Integration, Mapping[str, Any] | None, Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._kept = {}

    @classmethod
    def from_integration(cls, integration: Integration, defaults: Mapping[str, Any] | None = None) -> Self:
        """``integration``'s settings (over ``defaults``, the plugin's own section) and secrets,
        checked; :class:`~bridgekit.exceptions.ConfigError` when they do not fit."""
        hit = cls._kept.get(id(integration))
        if hit is not None and hit[0] is integration and hit[1] is defaults:
            kept: Self = hit[2]  # not typing.cast: this runs on every webhook
            return kept
        settings = cls._build(integration, defaults)
        if len(cls._kept) >= _CACHE_SIZE:
            cls._kept.clear()
        cls._kept[id(integration)] = (integration, defaults, settings)
        return settings

    @classmethod
    def keys(cls) -> dict[str, bool]:
        """Every key the configuration may give (a field's name, or the name it was renamed
        to with ``msgspec.field(name=...)``) -> whether it is a :data:`Secret`."""
        hints = typing.get_type_hints(cls, include_extras=True)
        return {
            key: typing.get_origin(hints[attr]) is Annotated and _SECRET in hints[attr].__metadata__
            for attr, key in zip(cls.__struct_fields__, cls.__struct_encode_fields__, strict=True)
        }

    @classmethod
    def choices(cls) -> dict[str, tuple[Any, ...]]:
        """Every key whose type is a ``Literal`` -> the values it allows."""
        hints = typing.get_type_hints(cls, include_extras=True)
        allowed = {}
        for attr, key in zip(cls.__struct_fields__, cls.__struct_encode_fields__, strict=True):
            hint = hints[attr]
            if typing.get_origin(hint) is Annotated:
                hint = typing.get_args(hint)[0]
            if typing.get_origin(hint) is Literal:
                allowed[key] = typing.get_args(hint)
        return allowed

    def checked(self) -> Self:
        """Rules beyond the field types: raise :class:`InvalidSetting`, or return the settings
        normalised (``msgspec.structs.replace``). Called once per integration."""
        return self

    @classmethod
    def _build(cls, integration: Integration, defaults: Mapping[str, Any] | None) -> Self:
        where = f"{cls.channel_title} integration" if cls.channel_title else "integration"
        where = f"{where} {integration.name!r}"
        keys = cls.keys()
        secrets = frozenset(key for key, secret in keys.items() if secret)
        plain = set(keys) - secrets
        settings = {**(defaults or {}), **integration.settings}
        for name in settings:
            if name in secrets:
                raise ConfigError(
                    f"{where}: {name!r} is a secret: set it under [integrations.{integration.name}.secrets] "
                    "or in the environment, not under settings"
                )
            if name not in plain:
                raise ConfigError(f"{where}: unknown setting {name!r}{_suggest(name, plain)}")
        for name in integration.secrets:
            if name in plain:
                raise ConfigError(
                    f"{where}: {name!r} is a setting, not a secret: set it under "
                    f"[integrations.{integration.name}.settings]"
                )
            if name not in secrets:
                raise ConfigError(f"{where}: unknown secret {name!r}{_suggest(name, secrets)}")
        given = {**settings, **{k: v for k, v in integration.secrets.items() if v}}
        missing = [name for name in sorted(secrets) if name not in given and _required(cls, name)]
        if missing:
            names = ", ".join(repr(name) for name in missing)
            variable = env_secret_name(integration.name, missing[0])
            raise ConfigError(
                f"{where}: missing secret{'s' if len(missing) > 1 else ''} {names} (set it under "
                f"[integrations.{integration.name}.secrets] or in {variable})"
            )
        try:
            return msgspec.convert(given, cls, strict=True).checked()
        except msgspec.ValidationError as exc:
            raise ConfigError(f"{where}: {_explain(str(exc), secrets, cls.choices())}") from None
        except InvalidSetting as exc:
            kind = "secret" if exc.key in secrets else "setting"
            raise ConfigError(f"{where}: {kind} {exc.key!r} {exc.expected}") from None


def _required(cls: type[msgspec.Struct], key: str) -> bool:
    index = cls.__struct_encode_fields__.index(key)
    # __struct_defaults__ holds the defaults of the last fields; a kw_only field without one
    # may come anywhere, which msgspec marks with NODEFAULT.
    offset = len(cls.__struct_fields__) - len(cls.__struct_defaults__)
    return index < offset or cls.__struct_defaults__[index - offset] is msgspec.NODEFAULT


def _suggest(name: str, known: set[str] | frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(sorted(known))})" if known else " (this channel takes none)"


def _explain(message: str, secrets: frozenset[str], choices: Mapping[str, tuple[Any, ...]] = {}) -> str:
    """msgspec's message as ``setting 'key': expected ...``; ``choices``: a ``Literal``
    setting's allowed values, named after "invalid enum value"."""
    if match := _MISSING.match(message):
        return f"missing setting {match['key']!r}"
    if match := _UNKNOWN.match(message):
        return f"unknown setting {match['key']!r}"
    if match := _AT.match(message):
        key = match["key"]
        kind = "secret" if key in secrets else "setting"
        what = match["what"].replace(f"`str` matching regex '{_URL_PATTERN}'", "an http(s) URL")
        what = what.replace("`", "")
        what = what[0].lower() + what[1:] if what else what
        if kind == "secret":
            what = re.sub(r"'[^']*'", "a value", what)  # never the secret, even as an enum value
        inside = f" (at {match['rest']})" if match["rest"] else ""
        if what.startswith("invalid enum value") and kind == "setting" and key in choices:
            what += f": must be one of {', '.join(repr(c) for c in choices[key])}"
        return f"{kind} {key!r}{inside}: {what}"
    return message
