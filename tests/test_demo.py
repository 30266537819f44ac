"""``bridgekit demo``: every installed messenger plugin's sandbox stands in for its platform;
customers write in, managers' replies reach them, all over real HTTP (issue #4)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bridgekit.config import Config
from bridgekit.demo import DEMO_EMAIL, PHONE_CUSTOMER, SCRIPT, Demo, demo_config


async def test_demo_customers_write_in_and_receive_the_replies(tmp_path: Path) -> None:
    lines: list[str] = []
    demo = Demo(demo_config(Config(), tmp_path, "127.0.0.1", 0), say=lines.append)
    await demo.start()
    try:
        channels = [link.provider.channel for link in demo.chatting]
        assert sorted(channels) == ["email", "instagram", "kakao_consult", "line", "naver", "sms"]
        for _ in channels:
            assert await demo.tick() == 200
        assert len(lines) == len(channels)

        # The printed browser sign-in works: the form takes it and the inbox opens.
        form = {"email": DEMO_EMAIL, "password": demo.password}
        jar = aiohttp.CookieJar(unsafe=True)  # keeps cookies of an IP-address host, as browsers do
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            origin = {"Origin": demo.url}
            async with browser.post(f"{demo.url}/sign-in", data=form, headers=origin) as resp:
                assert resp.status == 200
                assert resp.url.path == "/"  # signed in: the inbox, not the sign-in page again
                assert "Demo Operator" in await resp.text()
            async with browser.get(f"{demo.url}/admin/managers") as resp:
                assert resp.status == 200  # an admin: every page of the inbox can be tried

        headers = {"Authorization": f"Bearer {demo.token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(f"{demo.url}/api/v1/chats") as resp:
                chats = (await resp.json())["chats"]
            # The seeded phone customer's Alimtalk chat is closed: not in the open inbox.
            by_channel = {chat["channel"]: chat for chat in chats}
            assert sorted(by_channel) == sorted(channels)
            for n, channel in enumerate(channels):
                customer, _text = SCRIPT[n]
                assert by_channel[channel]["integration"] == f"demo-{channel}"
                # TalkTalk and Kakao tell nobody a user's name, nor does a text message; the
                # others do.
                assert by_channel[channel]["customer_name"] == (
                    None if channel in ("naver", "sms", "kakao_consult") else customer
                )
            for channel, chat in by_channel.items():
                async with session.post(
                    f"{demo.url}/api/v1/chats/{chat['id']}/messages", json={"text": f"Hello from {channel}"}
                ) as resp:
                    assert resp.status == 201, await resp.text()

        received: list[tuple[str, str, str]] = []
        for _ in range(100):  # the outbox sends within moments
            # (The seeded phone customer's welcome Alimtalk is the other test's.)
            received += [reply for reply in demo.new_replies() if reply[0] in channels]
            if len(received) == len(channels):
                break
            await asyncio.sleep(0.1)
        expected = {(ch, SCRIPT[n][0], f"Hello from {ch}") for n, ch in enumerate(channels)}
        assert set(received) == expected
    finally:
        await demo.stop()


async def test_the_send_only_kakao_channels_reach_the_seeded_phone_customer(tmp_path: Path) -> None:
    """Alimtalk and brand messages take no customer's message: the demo seeds a customer with
    a phone number, welcomed by an Alimtalk, a friend of the brand channel; a manager sends
    both from that customer's panel (its routes) and the stand-ins receive them."""
    demo = Demo(demo_config(Config(), tmp_path, "127.0.0.1", 0), say=lambda _line: None)
    await demo.start()
    try:
        linked = {link.provider.channel: link.integration for link in demo.linked}
        assert linked["kakao_alimtalk"] == "demo-kakao_alimtalk"
        assert linked["kakao_brand"] == "demo-kakao_brand"
        assert demo.bridge is not None
        kakao = demo.bridge.plugins.pm.get_plugin("kakao")
        # Noon in Seoul for the plugin and for Kakao's stand-in alike: at night in Korea Kakao
        # refuses brand messages (they are ads), and this test must not depend on the hour.
        kakao.brand.clock = lambda: datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
        (brand_demo,) = [link.provider for link in demo.linked if link.provider.channel == "kakao_brand"]
        brand_demo.sandbox.clock = kakao.brand.clock
        name, _phone = PHONE_CUSTOMER
        assert demo.phone_chat_url is not None
        chat_id = int(demo.phone_chat_url.rsplit("/", 1)[1])

        headers = {"Authorization": f"Bearer {demo.token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(f"{demo.url}/api/v1/chats/{chat_id}") as resp:
                chat = await resp.json()
            assert chat["customer"]["name"] == name
            assert [c["kind"] for c in chat["customer"]["contacts"]] == ["phone"]
            assert chat["channel"] == "kakao_alimtalk"
            customer_id = chat["customer_id"]
            async with session.get(f"{demo.url}/api/v1/kakao_alimtalk/templates") as resp:
                templates = {t["code"]: t["sendable"] for t in (await resp.json())["templates"]}
            assert templates == {"WELCOME_01": True, "SHIPPED_01": True, "COUPON_01": False}
            body = {
                "customer_id": customer_id,
                "template_code": "SHIPPED_01",
                "parameters": {"name": name, "invoice": "6079-1234"},
            }
            async with session.post(f"{demo.url}/api/v1/kakao_alimtalk/messages", json=body) as resp:
                assert resp.status == 201, await resp.text()
            body = {"customer_id": customer_id, "text": "겨울 세일 30% 할인"}
            async with session.post(f"{demo.url}/api/v1/kakao_brand/messages", json=body) as resp:
                assert resp.status == 201, await resp.text()

        expected = {
            ("kakao_alimtalk", name, f"{name}님, 회원가입을 환영합니다. 궁금한 점은 언제든 문의해 주세요."),
            ("kakao_alimtalk", name, f"{name}님, 주문하신 상품이 발송되었습니다. 송장번호: 6079-1234"),
            ("kakao_brand", name, "(광고) 겨울 세일 30% 할인"),
        }
        received: set[tuple[str, str, str]] = set()
        for _ in range(100):  # the outbox sends within moments
            received |= set(demo.new_replies())
            if received >= expected:
                break
            await asyncio.sleep(0.1)
        assert received == expected
    finally:
        await demo.stop()


def test_the_demo_command_runs_and_stops_by_itself(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEKIT_")}
    argv = ["demo", "--port", "0", "--interval", "0.05", "--messages", "3", "--dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "bridgekit.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "operator API token: bk_" in done.stdout
    assert f"/sign-in  email {DEMO_EMAIL}  password " in done.stdout
    assert done.stdout.count("-> 200") == 3
    assert (tmp_path / "bridgekit-demo.db").exists()
    assert not (tmp_path / "bridgekit.db").exists()  # never the user's own database
