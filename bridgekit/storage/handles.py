"""Insert-or-get for the two things concurrent writers race to create: a verified handle's
owner (``contacts``) and the chat a thread key points at (``chat_keys``).

Several processes on one PostgreSQL each read "no customer has this LINE userId" and "no chat
has this key" in their own transaction, and each would create one. The database settles it:
a verified handle is unique (``uq_contacts_verified_handle``), so the second insert does
nothing, and a key is inserted only if absent or moved only from the chat its writer read.
Each writer then reads what is there and files its messages under the winner's rows.

On PostgreSQL (read committed) ``ON CONFLICT DO NOTHING`` waits for the transaction holding
the conflicting row and the next statement sees its commit; nothing raises, so the statements
run inside the caller's transaction as they are. Two writers claiming the same rows in
opposite orders could deadlock: rows are claimed in sorted order, and a deadlock still left
is retried by ``retry_on_conflict`` like any other. On SQLite the writer holds the write lock,
so nothing ever conflicts and every claim is won.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bridgekit.storage.hotsql import HotSQL

#: (contact kind, scope, value)
Handle = tuple[str, int, str]
#: (integration id, key)
ThreadKey = tuple[int, str]

CONTACT_COLUMNS = ("id", "customer_id", "kind", "scope", "value", "verified", "created_at")
KEY_COLUMNS = ("integration_id", '"key"', "chat_id")
# Each row as it is inserted; on SQLite many rows a statement (HotSQL.insert).
_UNLESS_OWNED = " ON CONFLICT DO NOTHING"
_UNLESS_KEYED = ' ON CONFLICT (integration_id, "key") DO NOTHING'
_MOVE_KEY = 'UPDATE chat_keys SET chat_id = ? WHERE integration_id = ? AND "key" = ? AND chat_id = ?'


async def claim_contacts(sql: HotSQL, rows: Sequence[Sequence[Any]]) -> dict[Handle, tuple[int, int]]:
    """Insert contact rows ``(id, customer_id, kind, scope, value, verified, created_at)``,
    except those whose verified handle has an owner already: the first writer wins. Returns
    ``handle -> (contact id, customer id)`` of the owner of every verified handle among the
    rows, winner or not."""
    if not rows:
        return {}
    ordered = sorted(rows, key=lambda r: (r[2], r[3], r[4]))
    await sql.insert("contacts", CONTACT_COLUMNS, ordered, _UNLESS_OWNED)
    verified = {(r[2], r[3], r[4]) for r in ordered if r[5]}
    if not verified:
        return {}
    where, params = sql.grouped_in(("kind", "scope", "value"), verified)
    found = await sql.all(
        f"SELECT id, customer_id, kind, scope, value FROM contacts WHERE verified AND ({where})", params
    )
    return {
        (kind, scope, value): (contact_id, customer_id)
        for contact_id, customer_id, kind, scope, value in found
    }


async def claim_chat_keys(
    sql: HotSQL, wanted: Mapping[ThreadKey, tuple[int, int | None]]
) -> dict[ThreadKey, tuple[int, int, str]]:
    """Point each key at a chat: ``key -> (chat id, the chat id it was read pointing at, or
    None)``. A key is inserted if absent and moved only from the chat it was read at, so a
    concurrent writer's key is never overwritten. Returns ``key -> (chat id, customer id,
    chat state)`` of every key whose claim was lost, as the winner left it."""
    if not wanted:
        return {}
    ordered = sorted(wanted.items())
    inserts = [(iid, key, chat) for (iid, key), (chat, read) in ordered if read is None]
    moves = [(chat, iid, key, read) for (iid, key), (chat, read) in ordered if read is not None]
    if inserts:
        await sql.insert("chat_keys", KEY_COLUMNS, inserts, _UNLESS_KEYED)
    if moves:
        await sql.run_many(_MOVE_KEY, moves)
    if sql.dialect == "sqlite":
        return {}  # read and written under the write lock: every claim is won (no read back)
    where, params = sql.grouped_in(("k.integration_id", 'k."key"'), wanted)
    rows = await sql.all(
        'SELECT k.integration_id, k."key", c.id, c.customer_id, c.state'
        f" FROM chat_keys k JOIN chats c ON c.id = k.chat_id WHERE {where}",
        params,
    )
    return {
        (iid, key): (chat_id, customer_id, state)
        for iid, key, chat_id, customer_id, state in rows
        if chat_id != wanted[(iid, key)][0]
    }
