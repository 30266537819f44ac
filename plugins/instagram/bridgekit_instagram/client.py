"""The few Graph API calls the plugin makes: Send API and the user profile.

Send API: ``POST {graph_base}/{version}/{ig_user_id|me}/messages`` with a JSON body
``{"recipient": {"id": IGSID}, "message": {...}, "messaging_type": ..., "tag"?: ...}``;
success is ``{"recipient_id": ..., "message_id": ...}``. The Instagram API with Instagram
Login takes the token as ``Authorization: Bearer``; the Facebook-Login flow on
graph.facebook.com takes ``?access_token=`` (setting ``auth = "query"``).

User profile: ``GET {graph_base}/{version}/{IGSID}?fields=name,username,...``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from bridgekit.channelkit import transport_errors

from .config import InstagramConfig
from .errors import classify, graph_error

PROFILE_FIELDS = (
    "name",
    "username",
    "profile_pic",
    "is_verified_user",
    "follower_count",
    "is_user_follow_business",
    "is_business_follow_user",
)


class GraphClient:
    """Graph API calls for one integration over a shared :class:`aiohttp.ClientSession`."""

    def __init__(self, session: aiohttp.ClientSession, config: InstagramConfig) -> None:
        self.session = session
        self.config = config

    def _auth(self) -> tuple[dict[str, str], dict[str, str]]:
        token = self.config.access_token
        headers: dict[str, str] = {}
        params: dict[str, str] = {}
        if self.config.auth == "query":
            params["access_token"] = token
        else:
            headers["Authorization"] = f"Bearer {token}"
        if self.config.appsecret_proof and self.config.app_secret:
            # required when "Require App Secret" is on in the app's advanced settings
            params["appsecret_proof"] = hmac.new(
                self.config.app_secret.encode(), token.encode(), hashlib.sha256
            ).hexdigest()
        return headers, params

    async def send(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """POST one Send API request; return Meta's JSON answer or raise a DeliveryError."""
        url = f"{self.config.api_root}/{self.config.ig_user_id}/messages"
        headers, params = self._auth()
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        with transport_errors("Instagram Send API", self.config.timeout):
            async with self.session.post(
                url, json=body, headers=headers, params=params, timeout=timeout
            ) as response:
                raw = await response.read()
                status = response.status
                response_headers = response.headers
        decoded = _decode(raw)
        if 200 <= status < 300 and graph_error(decoded) is None:
            return decoded if isinstance(decoded, Mapping) else {}
        raise classify(status, decoded, response_headers)

    async def profile(self, igsid: str) -> Mapping[str, Any]:
        """Fetch the customer's public profile fields; raises on any failure."""
        url = f"{self.config.api_root}/{igsid}"
        headers, params = self._auth()
        params["fields"] = ",".join(PROFILE_FIELDS)
        timeout = aiohttp.ClientTimeout(total=min(self.config.timeout, 5.0))
        async with self.session.get(url, headers=headers, params=params, timeout=timeout) as response:
            decoded = _decode(await response.read())
            if response.status != 200 or graph_error(decoded) is not None or not isinstance(decoded, Mapping):
                raise classify(response.status, decoded, response.headers)
            return decoded


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
