"""The TalkTalk webhook's protection: secret path token and optional source-address allow-list.

TalkTalk signs nothing, so a wrong or missing ``?token=`` (or a source outside
``allowed_ips``) must be refused with ``SignatureError`` (the core answers 401 and keeps
nothing), before the body is even parsed.
"""

from __future__ import annotations

import pytest
from bridgekit_naver.access import allowed_networks, verify_delivery
from bridgekit_naver.plugin import NaverPlugin
from bridgekit_naver.sandbox import TalkTalkSandbox

from bridgekit.exceptions import ConfigError, SignatureError
from bridgekit.model import Integration, RawDelivery

TOKEN = "pt_6f1c0d4e9b2a47f8a3c5e7d9b1f3a5c7"
BODY = TalkTalkSandbox.encode(TalkTalkSandbox.text_event("al-2eGuGr5WQOnco1_V-FQ", "안녕하세요"))


def make_integration(**settings: object) -> Integration:
    return Integration(
        id=1,
        name="acme",
        channel="naver",
        settings=settings,
        secrets={"path_token": TOKEN, "authorization_key": "ct_key"},
    )


def make_delivery(
    token: str | None = TOKEN, remote: str | None = "117.52.141.200", body: bytes = BODY
) -> RawDelivery:
    return RawDelivery(
        integration="acme",
        method="POST",
        path="/hooks/acme",
        headers={"content-type": "application/json;charset=UTF-8"},
        query={} if token is None else {"token": token},
        body=body,
        remote=remote,
    )


def test_right_token_is_accepted() -> None:
    verify_delivery(make_integration(), make_delivery())


@pytest.mark.parametrize(
    "token",
    [None, "", "wrong", TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "토큰"],
    ids=["missing", "empty", "wrong", "prefix", "longer", "case", "non-ascii"],
)
def test_missing_or_wrong_token_is_refused(token: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_delivery(make_integration(), make_delivery(token=token))


def test_integration_without_path_token_refuses_everything() -> None:
    """Failing open would let anyone who guesses the integration name post customer messages."""
    bare = Integration(id=1, name="acme", channel="naver", secrets={"authorization_key": "ct_key"})
    with pytest.raises(SignatureError, match="path_token"):
        verify_delivery(bare, make_delivery())


async def test_ingest_checks_the_token_before_parsing_anything() -> None:
    """Garbage with a wrong token is a 401 (SignatureError), not a 400 that would keep it."""
    plugin = NaverPlugin()
    with pytest.raises(SignatureError):
        await plugin.bridgekit_ingest(make_integration(), make_delivery(token="nope", body=b"not json"))


@pytest.mark.parametrize(
    "remote",
    ["117.52.141.193", "117.52.141.222", "::ffff:117.52.141.200", "10.1.2.3"],
)
def test_allow_list_admits_listed_sources(remote: str) -> None:
    integration = make_integration(allowed_ips=["117.52.141.192/27", "10.0.0.0/8"])
    verify_delivery(integration, make_delivery(remote=remote))


@pytest.mark.parametrize(
    "remote", ["117.52.141.191", "117.52.141.224", "203.0.113.9", "::1", None, "garbage"]
)
def test_allow_list_refuses_other_sources(remote: str | None) -> None:
    integration = make_integration(allowed_ips=["117.52.141.192/27"])
    with pytest.raises(SignatureError):
        verify_delivery(integration, make_delivery(remote=remote))


def test_allow_list_refuses_even_with_the_right_token() -> None:
    integration = make_integration(allowed_ips="naver")
    verify_delivery(integration, make_delivery(remote="117.52.141.200"))
    with pytest.raises(SignatureError, match="allowed_ips"):
        verify_delivery(integration, make_delivery(remote="198.51.100.7"))


def test_no_allow_list_admits_any_source_with_the_token() -> None:
    verify_delivery(make_integration(), make_delivery(remote="198.51.100.7"))
    verify_delivery(make_integration(allowed_ips=[]), make_delivery(remote=None))


def test_allow_list_accepts_a_comma_separated_string() -> None:
    assert [str(n) for n in allowed_networks("117.52.141.192/27, 127.0.0.1")] == [
        "117.52.141.192/27",
        "127.0.0.1/32",
    ]


def test_a_typo_in_the_allow_list_stops_start_up_and_the_endpoint_stays_shut() -> None:
    broken = make_integration(allowed_ips=["not-an-ip"])
    with pytest.raises(
        ConfigError, match=r"setting 'allowed_ips'.*'not-an-ip' is not an address or a network"
    ):
        NaverPlugin().bridgekit_check_integration(broken)
    with pytest.raises(SignatureError, match="not-an-ip"):  # never fails open
        verify_delivery(broken, make_delivery())
