"""`bridgekit serve --workers N`: N processes answer on one port (PostgreSQL only), a dead one
is started again, and SIGTERM stops them all. The email plugin's SMTP listener runs in each."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from bridgekit_email_forward.sandbox import forward_mail

from bridgekit.testing.databases import postgres_admin_url, temporary_database
from tests.support.processes import env, free_port

pytestmark = pytest.mark.slow

BANNER = re.compile(r"worker (\d) of 2, pid (\d+)")


def _config(tmp_path: Path, db_url: str, port: int, smtp_port: int) -> Path:
    config = tmp_path / "bridgekit.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n\n[server]\nport = {port}\n\n'
        '[integrations.acme-mail]\nchannel = "email"\n'
        f'settings = {{ address = "acme@in.example.com", smtp_host = "127.0.0.1", smtp_port = {smtp_port},'
        ' default_from = "ACME <support@example.com>" }\n'
    )
    return config


def test_several_workers_on_sqlite_are_refused_with_the_reason(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridgekit.cli", "serve", "--workers", "2", "--port", str(free_port())],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--workers 2 needs PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "bridgekit.db").exists()  # refused before anything was created


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


async def _workers_answering(port: int, want: set[str], tries: int = 400) -> set[str]:
    """Which workers answer new connections (X-Bridgekit-Worker), until all of ``want`` did."""
    seen: set[str] = set()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        for _ in range(tries):
            try:
                async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                    if resp.status == 200:
                        seen.add(resp.headers["X-Bridgekit-Worker"])
            except aiohttp.ClientError:
                pass
            if want <= seen:
                break
            await asyncio.sleep(0.02)
    return seen


async def _banner_pids(out: Path, count: int) -> dict[str, list[int]]:
    """worker index -> the pids its banner lines named, once ``count`` lines were printed."""
    found: list[tuple[str, str]] = []
    for _ in range(600):
        found = BANNER.findall(await asyncio.to_thread(out.read_text))
        if len(found) >= count:
            break
        await asyncio.sleep(0.05)
    pids: dict[str, list[int]] = {}
    for index, pid in found:
        pids.setdefault(index, []).append(int(pid))
    return pids


@pytest.mark.skipif(postgres_admin_url() is None, reason="needs BRIDGEKIT_TEST_POSTGRES")
async def test_two_workers_share_the_port_are_restarted_when_killed_and_stop_together(tmp_path: Path) -> None:
    port, smtp_port = free_port(), free_port()
    out = tmp_path / "serve.out"
    async with temporary_database("postgresql", tmp_path) as db_url:
        config = _config(tmp_path, db_url, port, smtp_port)
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bridgekit.cli", "serve", "--workers", "2", "--config", str(config)],
                cwd=tmp_path,
                env=env(),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            pids = await _banner_pids(out, 2)
            assert sorted(pids) == ["1", "2"], out.read_text()
            first = {index: found[0] for index, found in pids.items()}
            assert first["1"] != first["2"]
            assert proc.pid not in first.values()
            # Both processes answer on the one port: the kernel spreads new connections.
            assert await _workers_answering(port, {"1", "2"}) == {"1", "2"}

            # Both listen for mail too (SO_REUSEPORT on the SMTP socket): every mail is taken.
            for n in range(6):
                mail = EmailMessage()
                mail["From"], mail["To"], mail["Subject"] = "kim@example.com", "acme@in.example.com", f"n{n}"
                mail.set_content(f"mail {n}")
                await forward_mail(  # raises unless the server answered 250
                    mail.as_bytes(),
                    host="127.0.0.1",
                    port=smtp_port,
                    mail_from="kim@example.com",
                    rcpt_to="acme@in.example.com",
                )
            conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://", 1))
            try:
                texts = await conn.fetch("SELECT text FROM messages ORDER BY text")
            finally:
                await conn.close()
            assert [r["text"].strip() for r in texts] == [f"mail {n}" for n in range(6)]

            # A worker that dies is started again, and the port keeps answering meanwhile.
            os.kill(first["2"], signal.SIGKILL)
            pids = await _banner_pids(out, 3)
            assert len(pids["2"]) == 2, out.read_text()
            assert _alive(pids["2"][1])
            assert await _workers_answering(port, {"1", "2"}) == {"1", "2"}

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(40) == 0
            assert not _alive(pids["1"][0])
            assert not _alive(pids["2"][1])
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for found in BANNER.findall(out.read_text()):
                if _alive(int(found[1])):
                    os.kill(int(found[1]), signal.SIGKILL)
