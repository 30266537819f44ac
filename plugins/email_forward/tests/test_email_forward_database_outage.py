"""Mail forwarded while PostgreSQL is away is answered ``451`` so the forwarder keeps it and
tries again; once PostgreSQL is back the same listener stores mail again (issue 17)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import pytest
from bridgekit_email_forward.plugin import EmailForwardPlugin
from bridgekit_email_forward.sandbox import SmtpSink
from test_email_forward_smtp import ACME, email_integration, load, send

from bridgekit.testing.harness import RunningBridge, start_bridge
from bridgekit.testing.postgres_server import PostgresServer

pytestmark = pytest.mark.slow


@pytest.fixture
async def running(
    own_postgres: PostgresServer, sink: SmtpSink, tmp_path: Path
) -> AsyncIterator[tuple[RunningBridge, int]]:
    plugin = EmailForwardPlugin()
    started = await start_bridge(
        database_url=own_postgres.url,
        data_dir=tmp_path / "data",
        plugins={"email_forward": plugin},
        integrations={"acme": email_integration(ACME, sink)},
    )
    yield started, plugin.smtp.port_for(ACME)
    await started.close()


async def test_mail_is_answered_451_while_postgresql_is_away_and_stored_once_it_is_back(
    own_postgres: PostgresServer, running: tuple[RunningBridge, int]
) -> None:
    bridge, port = running
    mail = load("ko_gmail_utf8.eml")
    await asyncio.to_thread(own_postgres.stop)
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(port, mail)
    assert refused.value.code == 451  # the forwarder keeps the mail and tries again
    await asyncio.to_thread(own_postgres.start)
    # The forwarder's retry, to the same running bridge: accepted and stored, once.
    assert (await send(port, mail)).startswith("2.0.0")
    (chat,) = await bridge.chats()
    assert len(await bridge.messages(chat["id"])) == 1
