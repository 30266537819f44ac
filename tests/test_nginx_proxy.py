"""The nginx example of docs/deploy.md, run as written (ports and certificate swapped) in front
of `bridgekit serve --workers 2` on PostgreSQL with the LINE sandbox: a signed webhook passes
through unchanged and is stored, the event stream is not buffered, an oversized webhook is
refused by nginx, HTTP is redirected to HTTPS, and bridgekit sees the client's address."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import trustme
from bridgekit_line.sandbox import LineSandbox

from bridgekit.testing.databases import postgres_admin_url, temporary_database
from tests.core.test_crash_recovery import operator_token
from tests.support.processes import ROOT, env, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
    pytest.mark.skipif(postgres_admin_url() is None, reason="serve --workers needs PostgreSQL"),
]

EXAMPLE = ROOT / "docs" / "deploy" / "nginx.conf"


def _site(upstream: int, http: int, https: int, cert: Path) -> str:
    """The example with this test's ports and certificate; every swap must apply, so the
    example cannot drift from what is tested."""
    site = EXAMPLE.read_text()
    for old, new in (
        ("server 127.0.0.1:8080 ", f"server 127.0.0.1:{upstream} "),
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;"),
        ("listen [::]:443 ssl;", ""),
        ("/etc/letsencrypt/live/support.example.com/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/support.example.com/privkey.pem", str(cert)),
    ):
        assert old in site, f"{old!r} is no longer in {EXAMPLE}"
        site = site.replace(old, new)
    return site


@pytest.fixture
async def line() -> AsyncIterator[LineSandbox]:
    async with LineSandbox() as sandbox:
        yield sandbox


async def _until_answers(url: str, **kwargs: object) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(400):
            try:
                async with session.get(url, **kwargs) as resp:  # type: ignore[arg-type]
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} did not answer")


async def test_the_nginx_example_proxies_webhooks_streams_events_and_limits_bodies(
    tmp_path: Path, line: LineSandbox
) -> None:
    upstream, http, https = free_port(), free_port(), free_port()
    ca = trustme.CA()
    cert = tmp_path / "support.pem"
    ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(cert))
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    (tmp_path / "logs").mkdir()
    (tmp_path / "site.conf").write_text(_site(upstream, http, https, cert))
    (tmp_path / "nginx.conf").write_text(
        "user root;\nerror_log logs/error.log;\npid logs/nginx.pid;\nevents {}\n"
        "http {\n  access_log off;\n  client_body_temp_path tmp;\n  proxy_temp_path tmp;\n"
        f"  include {tmp_path / 'site.conf'};\n}}\n"
    )
    (tmp_path / "tmp").mkdir()
    settings, secrets = line.integration_settings(), line.integration_secrets()
    async with temporary_database("postgresql", tmp_path) as db_url:
        config = tmp_path / "bridgekit.toml"
        config.write_text(
            f'[database]\nurl = "{db_url}"\n[server]\nport = {upstream}\ntrusted_proxies = ["127.0.0.1"]\n'
            '[plugins]\nenabled = ["line"]\n[integrations.acme]\nchannel = "line"\n'
            f'[integrations.acme.settings]\napi_base = "{settings["api_base"]}"\n'
            f'data_api_base = "{settings["data_api_base"]}"\n'
            f'[integrations.acme.secrets]\nchannel_secret = "{secrets["channel_secret"]}"\n'
            f'channel_access_token = "{secrets["channel_access_token"]}"\n'
        )
        token = operator_token(config)
        nginx = subprocess.Popen(
            ["nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
            stderr=subprocess.PIPE,
        )
        serve = subprocess.Popen(
            [sys.executable, "-m", "bridgekit.cli", "serve", "--workers", "2", "--config", str(config)],
            cwd=tmp_path,
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "serve.log").open("wb"),
        )
        try:
            base = f"https://localhost:{https}"
            await _until_answers(f"{base}/health", ssl=client_tls)
            user = line.add_user("Kim Minji")
            # The client connects from 127.0.0.2, nginx from 127.0.0.1 (trusted): bridgekit sees
            # the client's address through X-Forwarded-For.
            client = aiohttp.TCPConnector(ssl=client_tls, family=socket.AF_INET, local_addr=("127.0.0.2", 0))
            async with aiohttp.ClientSession(
                connector=client,
                headers={"Authorization": f"Bearer {token}"},
            ) as session:
                # The event stream's first bytes come through at once: nginx does not buffer it.
                async with session.get(f"{base}/api/v1/events") as stream:
                    assert stream.status == 200
                    assert stream.headers["Content-Type"].startswith("text/event-stream")
                    first = await asyncio.wait_for(stream.content.readany(), 2.0)
                    assert first.startswith(b":"), first

                # A signed webhook passes through unchanged (the signature checks) and is stored.
                body = line.webhooks.body([line.webhooks.text(user, "hello through nginx")])
                headers = {
                    "X-Line-Signature": line.webhooks.signature(body),
                    "Content-Type": "application/json",
                }
                async with session.post(f"{base}/hooks/acme", data=body, headers=headers) as resp:
                    assert resp.status == 200, await resp.text()
                conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://", 1))
                try:
                    assert await conn.fetchval("SELECT text FROM messages") == "hello through nginx"
                    assert await conn.fetchval("SELECT remote FROM raw_deliveries") == "127.0.0.2"
                finally:
                    await conn.close()

                # nginx refuses a webhook over its cap before bridgekit reads a byte.
                async with session.post(f"{base}/hooks/acme", data=b"x" * (3 * 1024 * 1024)) as resp:
                    assert resp.status == 413

            async with (
                aiohttp.ClientSession() as plain,
                plain.get(f"http://127.0.0.1:{http}/health", allow_redirects=False) as resp,
            ):
                assert resp.status == 301
                assert resp.headers["Location"].startswith("https://")
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(40)
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(20)
