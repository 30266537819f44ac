"""What an Alimtalk and a brand message share on their way out: the body of the route that
sends one to a customer, the customer's number, and the NHN request noted in the message's
progress (a retry then asks for that request's result instead of sending again)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import phonenumbers
from bridgekit.exceptions import ConfigError, PermanentDeliveryError
from bridgekit.model import Integration, OutboundMessage

from bridgekit_kakao.templates import AlimtalkRefused

SettingsT = TypeVar("SettingsT")


IDEMPOTENCY_KEY = {"type": "string", "minLength": 1, "maxLength": 200}


def customer_body(required: tuple[str, ...], properties: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON schema of a request about one customer: ``customer_id``, the ``integration``
    when several could serve it, and ``properties`` (nothing else)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["customer_id", *required],
        "properties": {
            "integration": {"type": "string"},
            "customer_id": {"type": "integer", "minimum": 1},
            **properties,
        },
    }


def customer_send_body(required: tuple[str, ...], properties: Mapping[str, Any]) -> dict[str, Any]:
    """``customer_body`` of a send, which may carry an ``idempotency_key``."""
    return customer_body(required, {**properties, "idempotency_key": IDEMPOTENCY_KEY})


class KoreanMobile:
    def __init__(self, number: phonenumbers.PhoneNumber) -> None:
        self.e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        #: As NHN wants ``recipientNo``: digits only, with the leading 0.
        self.national = "0" + str(number.national_number)


def korean_mobile(value: str) -> KoreanMobile:
    """The customer's stored phone as a Korean mobile number; refused otherwise."""
    try:
        number = phonenumbers.parse(value, "KR")
    except phonenumbers.NumberParseException:
        raise AlimtalkRefused(f"{value!r} is not a phone number") from None
    if number.country_code != 82 or phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise AlimtalkRefused(
            f"{value} is not a Korean mobile number: Alimtalk reaches KakaoTalk on those only"
        )
    return KoreanMobile(number)


def settings_and_phone(
    read: Callable[[Integration], SettingsT], integration: Integration, message: OutboundMessage
) -> tuple[SettingsT, KoreanMobile]:
    """The integration's settings and the recipient's number: a delivery fails for good
    without either."""
    try:
        return read(integration), korean_mobile(message.recipient.value)
    except (ConfigError, AlimtalkRefused) as exc:
        raise PermanentDeliveryError(str(exc)) from None


async def note_request(
    message: OutboundMessage, progress: dict[str, Any], request_id: str, recipient_seq: int
) -> dict[str, Any]:
    """Note the NHN request that took ``message`` in its progress; returns the progress."""
    progress |= {"request_id": request_id, "recipient_seq": recipient_seq}
    await message.save_progress(progress)
    return progress
