"""Integration secrets at rest (issue 12 item 3): encrypted with a key kept outside the
database, never stored when they came only from the environment, rotatable, and every file
the server writes readable by its owner only; removed integrations are disabled (item 13)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bridgekit.cli import main
from bridgekit.config import Config, parse_config
from bridgekit.exceptions import ConfigError
from bridgekit.inbox.customer_links import link_key
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database
from bridgekit.storage.secret_box import KEY_FILE, SecretBox
from bridgekit.testing.harness import TEST_OUTBOX, RunningBridge, start_bridge
from tests.conftest import integration, signed
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import CHANNEL, TestChannelPlugin

FILE_SECRET = "file-webhook-secret-5d21e8c4"
ENV_TOKEN = "env-only-send-token-7f3a9c1b"
OLD_TOKEN = "plaintext-token-from-v0-93ab"
GONE_TOKEN = "plaintext-token-of-removed-e1f0"


async def stored_bytes(running: RunningBridge | None, db_url: str) -> bytes:
    """Everything the database holds about integrations, as raw as it gets.

    SQLite: the bytes of the database file and its -wal/-shm. PostgreSQL: the rows.
    """
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        assert url.database
        return await asyncio.to_thread(_file_bytes, url.database)
    db = running.bridge.db if running is not None else Database(db_url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(text("SELECT row_to_json(i)::text FROM integrations i"))).scalars()
            return "\n".join(rows).encode()
    finally:
        if running is None:
            await db.dispose()


def _file_bytes(database: str) -> bytes:
    paths = [Path(database + suffix) for suffix in ("", "-wal", "-shm")]
    return b"".join(path.read_bytes() for path in paths if path.exists())


async def stored_secrets(db_url: str) -> dict[str, Any]:
    db = Database(db_url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(s.integrations.c.name, s.integrations.c.secrets))).all()
        return {row.name: row.secrets for row in rows}
    finally:
        await db.dispose()


async def first_chat(running: RunningBridge, event_id: str = "ev-1", secret: str = FILE_SECRET) -> int:
    body, headers = signed({"id": event_id, "user": "u-1", "text": "hello"}, secret=secret)
    assert (await running.post_hook("acme", body, headers))[0] == 200
    chats = await running.chats()
    return int(chats[0]["id"])


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual default umask, under which files would be 0644 and directories 0755."""
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_secret_given_only_in_the_environment_is_never_stored(
    make_bridge: Callable[..., Awaitable[RunningBridge]],
    db_url: str,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    channel_plugin: TestChannelPlugin,
) -> None:
    sandbox = SandboxProvider(token=ENV_TOKEN)
    provider = str((await aiohttp_server(sandbox.app())).make_url("")).rstrip("/")
    config = parse_config(
        {
            "integrations": {
                "acme": {
                    "channel": CHANNEL,
                    "settings": {"api_base": provider},
                    "secrets": {"secret": FILE_SECRET},
                }
            }
        },
        env={"BRIDGEKIT_INTEGRATION_ACME_TOKEN": ENV_TOKEN},
    )
    running = await make_bridge(
        plugins={"testchat": channel_plugin}, config=replace(config, outbox=TEST_OUTBOX)
    )

    # both secrets work: the file's verifies the webhook, the environment's authorises the send
    chat_id = await first_chat(running)
    await running.reply(chat_id, "thanks, on its way")
    await running.wait_for(lambda: sandbox.texts == ["thanks, on its way"])

    raw = await stored_bytes(running, db_url)
    assert ENV_TOKEN.encode() not in raw
    assert FILE_SECRET.encode() not in raw  # stored, but encrypted
    (sealed,) = (await stored_secrets(db_url)).values()
    box = SecretBox.load(running.bridge.data_dir)
    assert box.open(sealed, integration="acme") == {"secret": FILE_SECRET}


async def test_plaintext_secrets_of_an_older_version_are_encrypted_on_upgrade(
    make_bridge: Callable[..., Awaitable[RunningBridge]],
    db_url: str,
    sandbox: SandboxProvider,
    sandbox_url: str,
    channel_plugin: TestChannelPlugin,
) -> None:
    # the database as the previous version left it: secrets in plain JSON
    db = Database(db_url)
    await db.migrate()
    async with db.write() as conn:
        workspace = await conn.execute(
            s.workspaces.insert().values(name="default", created_at=utcnow()).returning(s.workspaces.c.id)
        )
        workspace_id = workspace.scalar_one()
        for name, secrets in (
            ("acme", {"secret": FILE_SECRET, "token": OLD_TOKEN}),
            ("gone", {"token": GONE_TOKEN}),
        ):
            await conn.execute(
                s.integrations.insert().values(
                    name=name,
                    workspace_id=workspace_id,
                    kind=CHANNEL,
                    settings={},
                    secrets=secrets,
                    enabled=True,
                    created_at=utcnow(),
                )
            )
    await db.dispose()
    assert OLD_TOKEN.encode() in await stored_bytes(None, db_url)  # the test sees plaintext

    spec = integration(sandbox_url)
    spec["secrets"] = {"secret": FILE_SECRET, "token": sandbox.token}
    running = await make_bridge(plugins={"testchat": channel_plugin}, integrations={"acme": spec})
    chat_id = await first_chat(running)
    await running.reply(chat_id, "still works")
    await running.wait_for(lambda: sandbox.texts == ["still works"])
    await running.close()

    raw = await stored_bytes(None, db_url)
    for plaintext in (FILE_SECRET, OLD_TOKEN, GONE_TOKEN):
        assert plaintext.encode() not in raw
    stored = await stored_secrets(db_url)
    assert SecretBox.is_sealed(stored["acme"])
    assert stored["gone"] == {}  # removed from the configuration: nothing left to leak


@pytest.mark.usefixtures("umask_022")
async def test_database_data_dir_attachments_and_key_files_are_owner_only(
    tmp_path: Path, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    data_dir = tmp_path / "data"
    db_file = tmp_path / "bridgekit.db"
    running = await start_bridge(
        database_url=f"sqlite+aiosqlite:///{db_file}",
        data_dir=data_dir,
        plugins={"testchat": channel_plugin},
        integrations={"acme": integration(sandbox_url)},
    )
    try:
        body, headers = signed({"id": "ev-1", "user": "u-1", "text": "hello"})
        assert (await running.post_hook("acme", body, headers))[0] == 200
        (chat,) = await running.chats()
        # a manager's upload (staged, then moved into place) and a stored inbound file
        form = aiohttp.FormData()
        form.add_field(
            "payload", json.dumps({"kind": "note", "text": "see file"}), content_type="application/json"
        )
        form.add_field("files", b"%PDF- invoice", filename="invoice.pdf", content_type="application/pdf")
        async with running.session.post(
            f"{running.url}/api/v1/chats/{chat['id']}/messages", data=form
        ) as resp:
            assert resp.status == 201, await resp.text()
        async with running.bridge.db.read() as conn:
            uploaded = Path((await conn.execute(select(s.attachments.c.storage_path))).scalar_one())
        stored = await running.bridge.files.put(b"an attachment")
        link_key(data_dir)

        def mode(path: Path) -> int:
            return stat.S_IMODE(path.stat().st_mode)

        files = [db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm"), stored.path, uploaded]
        files += [data_dir / KEY_FILE, data_dir / "secrets" / "customer_link.key"]
        dirs = [data_dir, data_dir / "secrets", data_dir / "attachments", stored.path.parent, uploaded.parent]
        assert {str(p): mode(p) for p in files} == {str(p): 0o600 for p in files}
        assert {str(p): mode(p) for p in dirs} == {str(p): 0o700 for p in dirs}
    finally:
        await running.close()


@pytest.mark.usefixtures("umask_022")
async def test_files_of_an_older_install_are_tightened_at_start(
    tmp_path: Path, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    data_dir = tmp_path / "data"
    db_file = tmp_path / "bridgekit.db"
    url = f"sqlite+aiosqlite:///{db_file}"
    db = Database(url)
    await db.migrate()
    await db.dispose()
    data_dir.mkdir()
    db_file.chmod(0o644)
    data_dir.chmod(0o755)
    running = await start_bridge(
        database_url=url, data_dir=data_dir, plugins={"testchat": channel_plugin}, integrations={}
    )
    await running.close()
    assert stat.S_IMODE(db_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


async def test_rotating_the_key_file_re_encrypts_every_secret_and_retires_the_old_key(
    db_url: str, tmp_path: Path, sandbox: SandboxProvider, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    data_dir = tmp_path / "data"
    spec = integration(sandbox_url)
    spec["secrets"]["secret"] = FILE_SECRET
    running = await start_bridge(
        database_url=db_url,
        data_dir=data_dir,
        plugins={"testchat": channel_plugin},
        integrations={"acme": spec},
    )
    await running.close()
    old_key = (data_dir / KEY_FILE).read_bytes().strip()
    toml = tmp_path / "bridgekit.toml"
    toml.write_text(f'data_dir = "{data_dir}"\n[database]\nurl = "{db_url}"\n')

    assert await asyncio.to_thread(main, ["secrets", "rotate", "--config", str(toml)]) == 0

    new_keys = (data_dir / KEY_FILE).read_bytes().split()
    assert len(new_keys) == 1
    assert new_keys[0] != old_key
    sealed = (await stored_secrets(db_url))["acme"]
    assert SecretBox(new_keys).open(sealed, integration="acme")["secret"] == FILE_SECRET
    with pytest.raises(ConfigError, match="do not open"):
        SecretBox([old_key]).open(sealed, integration="acme")

    # the server starts on the rotated key and still verifies and sends
    running = await start_bridge(
        database_url=db_url,
        data_dir=data_dir,
        plugins={"testchat": channel_plugin},
        integrations={"acme": spec},
    )
    try:
        chat_id = await first_chat(running)
        await running.reply(chat_id, "after rotation")
        await running.wait_for(lambda: sandbox.texts == ["after rotation"])
    finally:
        await running.close()


async def test_rotating_to_a_new_environment_key_moves_every_secret_to_it(
    db_url: str,
    tmp_path: Path,
    sandbox_url: str,
    channel_plugin: TestChannelPlugin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    spec = integration(sandbox_url)
    running = await start_bridge(
        database_url=db_url,
        data_dir=tmp_path / "data",
        plugins={"testchat": channel_plugin},
        integrations={"acme": spec},
        config=Config(outbox=TEST_OUTBOX, secret_keys=(old,)),
    )
    await running.close()
    assert not (tmp_path / "data" / KEY_FILE).exists()  # the environment's key, no file
    toml = tmp_path / "bridgekit.toml"
    toml.write_text(f'data_dir = "{tmp_path / "data"}"\n[database]\nurl = "{db_url}"\n')
    monkeypatch.setenv("BRIDGEKIT_SECRET_KEY", new)
    monkeypatch.setenv("BRIDGEKIT_SECRET_KEY_OLD", old)

    assert await asyncio.to_thread(main, ["secrets", "rotate", "--config", str(toml)]) == 0

    sealed = (await stored_secrets(db_url))["acme"]
    assert SecretBox([new.encode()]).open(sealed, integration="acme") == spec["secrets"]
    with pytest.raises(ConfigError):
        SecretBox([old.encode()]).open(sealed, integration="acme")


async def test_integration_removed_from_the_configuration_is_disabled_and_its_history_kept(
    make_bridge: Callable[..., Awaitable[RunningBridge]], sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    spec = integration(sandbox_url)
    spec["secrets"]["secret"] = FILE_SECRET
    first = await make_bridge(plugins={"testchat": channel_plugin}, integrations={"acme": spec})
    chat_id = await first_chat(first)
    await first.close()

    # restarted without [integrations.acme]: webhooks refused and not stored, history readable
    removed = await make_bridge(plugins={"testchat": TestChannelPlugin()}, integrations={})

    async def raw_count() -> int:
        async with removed.bridge.db.read() as conn:
            return int((await conn.execute(select(func.count()).select_from(s.raw_deliveries))).scalar_one())

    before = await raw_count()
    body, headers = signed({"id": "ev-2", "user": "u-1", "text": "still there?"}, secret=FILE_SECRET)
    status, answer = await removed.post_hook("acme", body, headers)
    assert (status, "no enabled integration" in answer) == (404, True)
    assert await raw_count() == before
    (chat,) = await removed.chats()
    assert chat["id"] == chat_id
    assert [m["text"] for m in await removed.messages(chat_id)] == ["hello"]
    await removed.close()

    # configured again: enabled again, same chat
    again = await make_bridge(plugins={"testchat": TestChannelPlugin()}, integrations={"acme": spec})
    assert (await again.post_hook("acme", body, headers))[0] == 200
    await again.wait_for(
        lambda: _texts(again, chat_id, ["hello", "still there?"]),
    )


async def _texts(running: RunningBridge, chat_id: int, expected: list[str]) -> bool:
    return [m["text"] for m in await running.messages(chat_id)] == expected


async def test_a_malformed_environment_key_stops_the_start_with_a_clear_error(
    tmp_path: Path, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    with pytest.raises(ConfigError, match="not a Fernet key"):
        await start_bridge(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bridgekit.db'}",
            data_dir=tmp_path / "data",
            plugins={"testchat": channel_plugin},
            integrations={"acme": integration(sandbox_url)},
            config=Config(secret_keys=("too-short",)),
        )
