"""What an ``sms`` integration's settings and secrets may hold (checked at start-up)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from bridgekit.channelkit import ChannelSettings, HttpUrl, InvalidSetting, Secret
from msgspec import Meta

from bridgekit_sms import rules

#: The API domain of the v3.0 guide (https://docs.nhncloud.com/ko/Notification/SMS/ko/api-guide/);
#: it replaced ``https://api-sms.cloud.toast.com`` in February 2026.
NHN_API_BASE = "https://sms.api.nhncloudservice.com"
TWILIO_API_BASE = "https://api.twilio.com"

#: Default prices in PU (1 PU = 1 KRW) per successful send; failed sends are free.
SMS_PRICE_PU = 20
LMS_PRICE_PU = 50
INTERNATIONAL_SEGMENT_PRICE_PU = 100

Price = Annotated[int, Meta(ge=0)]


class SmsSettings(ChannelSettings, frozen=True, kw_only=True):
    """``[integrations.<name>.settings]`` and ``.secrets`` of an ``sms`` integration, over
    the plugin's ``[plugins.settings.sms]`` table (the shared default number lives there)."""

    channel_title = "SMS"

    # NHN Cloud SMS (Korean numbers)
    nhn_api_base: HttpUrl = NHN_API_BASE
    nhn_app_key: str = ""
    nhn_secret_key: Secret = ""
    #: The token NHN's MO (inbound) callback URL carries as ``?token=``.
    nhn_inbound_token: Secret = ""
    #: The signature string set for the webhook in NHN's console (``X-Toast-Webhook-Signature``).
    nhn_webhook_signature: Secret = ""
    nhn_poll_seconds: Annotated[float, Meta(gt=0)] = 10.0
    # Twilio (international numbers; Korean ones too when NHN is not configured)
    twilio_api_base: HttpUrl = TWILIO_API_BASE
    twilio_account_sid: str = ""
    twilio_auth_token: Secret = ""
    #: The public URL Twilio posts to, exactly as configured in its console (the signature
    #: covers it). Default: ``[server] public_url`` + ``/hooks/<integration>``.
    twilio_webhook_url: str = ""
    # Sender numbers (F7)
    sender_number: str = ""
    #: The Twilio number international texts go from (default: ``sender_number``).
    twilio_sender_number: str = ""
    shared_sender_number: str = ""
    registered_senders: list[str] = msgspec.field(default_factory=list)
    default_region: str = "KR"
    # Advertising texts
    ad_sender_name: str = ""
    ad_opt_out_number: str = ""
    # Prices (PU)
    sms_price_pu: Price = SMS_PRICE_PU
    lms_price_pu: Price = LMS_PRICE_PU
    international_segment_price_pu: Price = INTERNATIONAL_SEGMENT_PRICE_PU
    timeout_seconds: Annotated[float, Meta(gt=0)] = 15.0

    @property
    def nhn(self) -> bool:
        return bool(self.nhn_app_key and self.nhn_secret_key)

    @property
    def twilio(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    def checked(self) -> SmsSettings:
        if bool(self.nhn_app_key) != bool(self.nhn_secret_key):
            raise InvalidSetting("nhn_secret_key", "and nhn_app_key go together")
        if bool(self.twilio_account_sid) != bool(self.twilio_auth_token):
            raise InvalidSetting("twilio_auth_token", "and twilio_account_sid go together")
        if not self.nhn and not self.twilio:
            raise InvalidSetting(
                "nhn_app_key",
                "or twilio_account_sid is required, with its secret (nhn_secret_key, "
                "twilio_auth_token): no provider is configured",
            )
        senders: list[str] = []
        for key, value in (
            ("sender_number", self.sender_number),
            ("shared_sender_number", self.shared_sender_number),
            ("twilio_sender_number", self.twilio_sender_number),
        ):
            if value:
                try:
                    rules.phone(value, self.default_region)
                except rules.TextRefused as exc:
                    raise InvalidSetting(key, str(exc)) from None
        for value in self.registered_senders:
            try:
                senders.append(rules.phone(value, self.default_region).e164)
            except rules.TextRefused as exc:
                raise InvalidSetting("registered_senders", str(exc)) from None
        if not (self.sender_number or self.shared_sender_number or self.twilio_sender_number):
            raise InvalidSetting("sender_number", "or shared_sender_number is required: texts need a sender")
        return msgspec.structs.replace(
            self,
            registered_senders=senders,
            nhn_api_base=self.nhn_api_base.rstrip("/"),
            twilio_api_base=self.twilio_api_base.rstrip("/"),
        )

    def sender(self, provider: str) -> rules.Phone:
        """The number texts go from: the workspace's own, else the shared default (F7); for
        Twilio ``twilio_sender_number`` first. Refused unless it is in ``registered_senders``."""
        chosen = self.sender_number or self.shared_sender_number
        if provider == "twilio":
            chosen = self.twilio_sender_number or chosen
        number = rules.phone(chosen, self.default_region)
        if number.e164 not in self.registered_senders:
            raise rules.TextRefused(
                f"sender number {chosen} is not registered with the provider (registered_senders): "
                "texts go only from pre-registered numbers"
            )
        return number
