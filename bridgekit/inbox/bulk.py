"""Bulk actions on selected chats or on every result of a search (I7).

The chats are processed in chunks, one transaction each, with the same batch operations as
the single-chat endpoints; each chat is all-or-nothing and reported on its own, so one chat
refusing (a 9th tag, a queued chat that cannot be snoozed) never affects the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.assignment import assign_chats, ensure_assignable
from bridgekit.inbox.chat_batch import Outcome, check_text, error_fields
from bridgekit.inbox.chat_info import add_tag, clean_tag
from bridgekit.inbox.chat_state import check_snooze_until, close_chats, snooze_chats
from bridgekit.inbox.chats import ChatError
from bridgekit.inbox.managers import Manager
from bridgekit.inbox.views import ViewError, matching_chat_ids
from bridgekit.runtime.clock import as_naive_utc, utcnow
from bridgekit.runtime.events import EventBus
from bridgekit.storage.db import Database
from bridgekit.storage.schema import valid_id

log = logging.getLogger("bridgekit.bulk")

ACTIONS = ("close", "snooze", "assign", "tag")
MAX_CHATS = 10_000
CHUNK = 500


@dataclass(frozen=True, slots=True)
class BulkRequest:
    action: str
    chat_ids: tuple[int, ...] | None
    query: Mapping[str, str] | None
    until: datetime | None = None
    manager_id: int | None = None
    tag: str | None = None


def parse_until(value: object) -> datetime:
    """An ISO 8601 time; without an offset it is taken as UTC."""
    if not isinstance(value, str):
        raise ChatError("until must be an ISO 8601 time")
    try:
        return as_naive_utc(datetime.fromisoformat(value))
    except (ValueError, OverflowError):
        raise ChatError("until must be an ISO 8601 time") from None


def parse_bulk(body: Mapping[str, Any]) -> BulkRequest:
    """Validate a bulk request body; a refusal here applies to the whole request (400)."""
    action = body.get("action")
    if action not in ACTIONS:
        raise ChatError(f"action must be one of {', '.join(ACTIONS)}")
    chat_ids, query = body.get("chat_ids"), body.get("query")
    if (chat_ids is None) == (query is None):
        raise ChatError("give either chat_ids or query")
    ids: tuple[int, ...] | None = None
    if chat_ids is not None:
        if not isinstance(chat_ids, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) for c in chat_ids
        ):
            raise ChatError("chat_ids must be a list of chat ids")
        if len(chat_ids) > MAX_CHATS:
            raise ChatError(f"at most {MAX_CHATS} chats per bulk action")
        ids = tuple(dict.fromkeys(chat_ids))
    params: dict[str, str] | None = None
    if query is not None:
        if not isinstance(query, dict) or not all(
            isinstance(v, str | int | bool) and not isinstance(v, dict) for v in query.values()
        ):
            raise ChatError("query must be an object of list parameters")
        params = {
            check_text(str(k), "query"): check_text(
                str(v).lower() if isinstance(v, bool) else str(v), "query"
            )
            for k, v in query.items()
        }
    until = manager_id = tag = None
    if action == "snooze":
        until = parse_until(body.get("until"))
        check_snooze_until(until, utcnow())
    elif action == "assign":
        manager_id = body.get("manager_id")
        if manager_id is not None and (not isinstance(manager_id, int) or isinstance(manager_id, bool)):
            raise ChatError("manager_id must be a manager id or null")
        if manager_id is not None and not valid_id(manager_id):
            raise ChatError(f"no manager {manager_id}")
    elif action == "tag":
        tag = clean_tag(body.get("tag"))
    return BulkRequest(str(action), ids, params, until, manager_id, tag)


def _operation(
    request: BulkRequest, actor: Manager
) -> Callable[[AsyncConnection, Sequence[int]], Awaitable[Outcome]]:
    async def run(conn: AsyncConnection, ids: Sequence[int]) -> Outcome:
        if request.action == "close":
            return await close_chats(conn, ids)
        if request.action == "snooze":
            assert request.until is not None
            return await snooze_chats(conn, ids, request.until)
        if request.action == "assign":
            return await assign_chats(conn, ids, manager_id=request.manager_id, actor_id=actor.id)
        assert request.tag is not None
        return await add_tag(conn, ids, request.tag)

    return run


async def run_bulk(
    db: Database, events: EventBus, actor: Manager, request: BulkRequest
) -> list[dict[str, Any]]:
    """Apply the action chunk by chunk; returns ``[{"chat_id", "ok", "error"?, "code"?,
    "details"?}]`` in order."""
    if request.action == "assign" and request.manager_id is not None:
        async with db.read() as conn:
            await ensure_assignable(conn, request.manager_id)
    if request.chat_ids is not None:
        chat_ids = list(request.chat_ids)
    else:
        assert request.query is not None
        try:
            async with db.read() as conn:
                chat_ids = await matching_chat_ids(conn, actor, request.query, limit=MAX_CHATS)
        except ViewError as exc:
            raise ChatError(str(exc)) from None
    operation = _operation(request, actor)
    results: list[dict[str, Any]] = []
    for start in range(0, len(chat_ids), CHUNK):
        chunk = chat_ids[start : start + CHUNK]
        try:
            async with db.write() as conn:
                outcome = await (await operation(conn, chunk)).sequenced(conn)
        except ChatError:
            raise
        except Exception:
            # The chunk's transaction rolled back: none of its chats changed.
            log.exception("bulk %s failed for chats %s..%s", request.action, chunk[0], chunk[-1])
            outcome = Outcome(errors=dict.fromkeys(chunk, "could not be saved; try again"))
        events.publish_many(outcome.events)
        for cid in chunk:
            error = outcome.errors.get(cid)
            results.append(
                {"chat_id": cid, "ok": True}
                if error is None
                else {"chat_id": cid, "ok": False, **error_fields(error)}
            )
    return results
