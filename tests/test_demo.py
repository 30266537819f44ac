"""``bridgekit demo``: every installed messenger plugin's sandbox stands in for its platform;
customers write in, managers' replies reach them, all over real HTTP (issue #4)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp

from bridgekit.config import Config
from bridgekit.demo import DEMO_EMAIL, SCRIPT, Demo, demo_config


async def test_demo_customers_write_in_and_receive_the_replies(tmp_path: Path) -> None:
    lines: list[str] = []
    demo = Demo(demo_config(Config(), tmp_path, "127.0.0.1", 0), say=lines.append)
    await demo.start()
    try:
        channels = [link.provider.channel for link in demo.linked]
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
            received += demo.new_replies()
            if len(received) == len(channels):
                break
            await asyncio.sleep(0.1)
        expected = {(ch, SCRIPT[n][0], f"Hello from {ch}") for n, ch in enumerate(channels)}
        assert set(received) == expected
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
