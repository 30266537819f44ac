"""``X-Twilio-Signature`` exactly as Twilio computes it: the vector of Twilio's own library
(twilio-python's ``RequestValidator`` tests, checked against ``RequestValidator`` 9.3.0)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from bridgekit.exceptions import SignatureError

from bridgekit_sms.inbound import twilio_signature, verify_twilio

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php"
QUERY = {"foo": "1", "bar": "2"}
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_the_signature_is_twilios() -> None:
    assert twilio_signature(TOKEN, f"{URL}?foo=1&bar=2", PARAMS.items()) == EXPECTED


def test_a_signed_request_verifies_with_and_without_the_default_port() -> None:
    body = urlencode(PARAMS).encode()
    assert dict(verify_twilio(TOKEN, URL, QUERY, body, EXPECTED)) == PARAMS
    assert verify_twilio(TOKEN, "https://mycompany.com:443/myapp.php", QUERY, body, EXPECTED)


@pytest.mark.parametrize(
    ("url", "query", "params", "signature"),
    [
        (URL, QUERY, {**PARAMS, "Digits": "9999"}, EXPECTED),  # a changed parameter
        (URL, {"foo": "1"}, PARAMS, EXPECTED),  # another URL
        ("https://elsewhere.example/myapp.php", QUERY, PARAMS, EXPECTED),
        (URL, QUERY, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8"),  # truncated
    ],
)
def test_anything_else_is_refused(
    url: str, query: dict[str, str], params: dict[str, str], signature: str
) -> None:
    with pytest.raises(SignatureError):
        verify_twilio(TOKEN, url, query, urlencode(params).encode(), signature)
