"""Inbox views and search (I1-I8): which chats a list shows, in which order, one page at a time.

A list request is parsed once into a :class:`ListQuery`; :func:`list_page` turns it into one
SQL statement over ``chats`` with keyset pagination (never OFFSET), and
:func:`matching_chat_ids` runs the same statement without pages for bulk actions (I7).

Every view picks the index that serves it: the channel's open chats by latest message
(``ix_chats_workspace_id_state_last_message_at``), a manager's chats (``ix_chats_assignee_id_...``,
also for "no assignee"), a team's (``ix_chats_team_id_...``) or an integration's chats. The
channel filter is only added when no narrower index applies, so the planner is not tempted to
scan the channel index and filter. A tag's chats are read from the tag's rows, which carry
copies of their chat's workspace, state and sort keys (migration 0012): its pages are one range
of ``ix_chat_tags_tag_workspace_id_state_...`` in page order.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import UnaryExpression

from bridgekit.exceptions import RequestRefused
from bridgekit.inbox.managers import Manager
from bridgekit.payloads import parse_json
from bridgekit.runtime.clock import as_naive_utc
from bridgekit.storage import schema as s
from bridgekit.storage.schema import MAX_ID, valid_id

VIEWS = (
    "all",
    "mine",
    "unread",
    "favourites",
    "sessions",
    "unassigned",
    "queue",
    "assignee",
    "integration",
    "tag",
)
# "any" lists every state at once (no index serves its order; meant for small result sets).
STATES = ("open", "snoozed", "closed", "queued", "any")
SORTS = ("latest", "newest", "oldest")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100

c = s.chats.c


class ViewError(RequestRefused):
    """A list request that cannot be answered; the message says why (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the previous page ended: its last chat's sort value and id."""

    sort: str
    value: datetime
    chat_id: int

    def encode(self) -> str:
        raw = json.dumps([self.sort, self.value.isoformat(), self.chat_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            sort, value, chat_id = parse_json(raw)
            if not isinstance(sort, str) or not isinstance(value, str) or not valid_id(chat_id):
                raise ValueError(token)
            # The columns hold naive UTC: an aware value could not be compared with them.
            return cls(sort, as_naive_utc(datetime.fromisoformat(value)), chat_id)
        except (ValueError, TypeError, binascii.Error):
            raise ViewError("cursor is not valid") from None


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A parsed list request: the view, its filters, order and page."""

    view: str = "all"
    state: str = "open"
    team_id: int | None = None
    manager_id: int | None = None
    integration: str | None = None
    tag: str | None = None
    q: str | None = None
    sort: str = "latest"
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None


MAX_SEARCH = 1000  # characters of ``q``: what a person types, with room to paste


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ViewError(f"{name} must be an integer") from None
    if not 0 <= value <= MAX_ID:
        raise ViewError(f"{name} is out of range")
    return value


def parse_list_query(params: Mapping[str, str], *, max_limit: int = MAX_LIMIT) -> ListQuery:
    """Validate list parameters (``view``, ``state``, ``team``, ``manager``, ``integration``,
    ``tag``, ``q``, ``sort``, ``limit``, ``cursor``). Raises :class:`ViewError`."""
    if any("\x00" in value for value in params.values()):
        raise ViewError("parameters must not contain NUL characters")  # PostgreSQL refuses them
    view = params.get("view") or "all"
    if view not in VIEWS:
        raise ViewError(f"view must be one of {', '.join(VIEWS)}")
    state = params.get("state") or ("queued" if view == "queue" else "open")
    if state not in STATES:
        raise ViewError(f"state must be one of {', '.join(STATES)}")
    if view == "queue" and state != "queued":
        raise ViewError("the queue view lists queued chats only")
    sort = params.get("sort") or "latest"
    if sort not in SORTS:
        raise ViewError(f"sort must be one of {', '.join(SORTS)}")
    limit = _int_param(params, "limit")
    if limit is not None and limit < 1:
        raise ViewError("limit must be at least 1")
    # Larger pages are served at the maximum rather than refused: a client asking for "many"
    # still gets a next_cursor to follow.
    limit = min(limit or DEFAULT_LIMIT, max_limit)
    q = (params.get("q") or "").strip() or None
    if q is not None and len(q) > MAX_SEARCH:  # every message's text is searched for it
        raise ViewError(f"q can be at most {MAX_SEARCH} characters")
    cursor = Cursor.decode(params["cursor"]) if params.get("cursor") else None
    if cursor is not None and cursor.sort != sort:
        raise ViewError("cursor belongs to another sort order")
    query = ListQuery(
        view=view,
        state=state,
        team_id=_int_param(params, "team"),
        manager_id=_int_param(params, "manager"),
        integration=params.get("integration") or None,
        tag=params.get("tag") or None,
        q=q,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    if view == "assignee" and query.manager_id is None:
        raise ViewError("the assignee view needs manager=<id>")
    if view == "integration" and query.integration is None:
        raise ViewError("the integration view needs integration=<name>")
    if view == "tag" and query.tag is None:
        raise ViewError("the tag view needs tag=<tag>")
    return query


@dataclass(frozen=True, slots=True)
class ManagerContext:
    """What the views need to know about the calling manager beyond :class:`Manager`."""

    id: int
    workspace_id: int
    notify_unassigned: bool


async def manager_context(conn: AsyncConnection, manager: Manager) -> ManagerContext:
    m = s.managers.c
    row = (await conn.execute(select(m.workspace_id, m.notify_unassigned).where(m.id == manager.id))).one()
    return ManagerContext(manager.id, int(row.workspace_id), bool(row.notify_unassigned))


# --- per-manager conditions, shared with the sidebar counts and page annotations -------------


def unread_condition(manager_id: int) -> ColumnElement[bool]:
    """I1 Unread for one manager: a message newer than their read marker that someone else
    wrote; a chat they never read is unread once it has a customer message."""
    m, rm = s.messages.c, s.read_markers.c
    marker = (
        select(rm.last_read_message_id)
        .where(rm.manager_id == manager_id, rm.chat_id == c.id)
        # Correlated to the chat (two levels up), so the marker is a constant bound for the
        # range scan of the chat's messages on ix_messages_chat_id_id.
        .correlate(s.chats)
        .scalar_subquery()
    )
    return exists().where(
        m.chat_id == c.id,
        m.id > func.coalesce(marker, 0),
        or_(marker.is_not(None), m.direction == "inbound"),
        # A manager's own replies and notes never make a chat unread for them.
        or_(m.author_kind != "manager", m.author_id.is_(None), m.author_id != manager_id),
    )


def sessions_condition(ctx: ManagerContext) -> ColumnElement[bool]:
    """I1 My sessions: chats the manager is notified about."""
    f = s.chat_followers.c
    followed = exists().where(f.chat_id == c.id, f.manager_id == ctx.id)
    parts: list[ColumnElement[bool]] = [c.assignee_id == ctx.id, followed]
    if ctx.notify_unassigned:
        parts.append(c.assignee_id.is_(None))
    return or_(*parts)


_PHONEISH = re.compile(r"^[\d\s()+.-]+$")
_SEPARATORS = ("-", " ", "(", ")", "+", ".")


def _digits_only(column: Any) -> Any:
    for sep in _SEPARATORS:
        column = func.replace(column, sep, "")
    return column


def search_condition(q: str) -> ColumnElement[bool]:
    """Chat title (an email's subject), customer name, contact values (email, phone) or
    message text contain ``q``, case-insensitively. ``icontains`` escapes ``%``/``_`` and
    renders ``lower(x) LIKE lower(y)`` on SQLite and ``ILIKE`` on PostgreSQL."""
    cu, ct, m = s.customers.c, s.contacts.c, s.messages.c
    contact_match: ColumnElement[bool] = ct.value.icontains(q, autoescape=True)
    digits = re.sub(r"\D", "", q)
    if _PHONEISH.match(q) and len(digits) >= 4:
        # Phone numbers are typed with or without separators, nationally (010...) or in
        # E.164 (+8210...): compare digits only, without the national trunk prefix.
        needle = digits[1:] if digits.startswith("0") and len(digits) >= 8 else digits
        contact_match = or_(contact_match, _digits_only(ct.value).contains(needle, autoescape=True))
    return or_(
        c.title.icontains(q, autoescape=True),
        exists().where(cu.id == c.customer_id, cu.name.icontains(q, autoescape=True)),
        exists().where(ct.customer_id == c.customer_id, contact_match),
        exists().where(m.chat_id == c.id, m.text.icontains(q, autoescape=True)),
    )


# --- the list statement -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageKeys:
    """The columns a list is filtered by state and ordered by: the chat's own, or for a tag's
    chats their copies on the tag's rows (equal to the chat's: kept by migration 0012's
    triggers), which the tag's index holds in page order."""

    state: Any
    last_message_at: Any
    created_at: Any
    chat_id: Any

    @classmethod
    def of(cls, query: ListQuery) -> PageKeys:
        if query.tag is not None:
            t = s.chat_tags.c
            return cls(t.state, t.last_message_at, t.created_at, t.chat_id)
        return cls(c.state, c.last_message_at, c.created_at, c.id)

    def sort_column(self, sort: str) -> Any:
        return self.last_message_at if sort == "latest" else self.created_at

    def order(self, sort: str) -> tuple[UnaryExpression[Any], UnaryExpression[Any]]:
        column = self.sort_column(sort)
        if sort == "oldest":
            return column.asc(), self.chat_id.asc()
        return column.desc(), self.chat_id.desc()

    def after(self, cursor: Cursor) -> ColumnElement[bool]:
        """Rows strictly after the cursor in the page order (sort value, then id as tiebreak).

        The redundant ``column <= value`` gives both planners a plain range on the index column.
        """
        column, chat_id = self.sort_column(cursor.sort), self.chat_id
        if cursor.sort == "oldest":
            return and_(
                column >= cursor.value,
                or_(column > cursor.value, and_(column == cursor.value, chat_id > cursor.chat_id)),
            )
        return and_(
            column <= cursor.value,
            or_(column < cursor.value, and_(column == cursor.value, chat_id < cursor.chat_id)),
        )


async def _integration_id(conn: AsyncConnection, name: str) -> int:
    i = s.integrations.c
    found = (await conn.execute(select(i.id).where(i.name == name))).scalar()
    if found is None:
        raise ViewError(f"no integration named {name!r}")
    return int(found)


async def conditions(
    conn: AsyncConnection, ctx: ManagerContext, query: ListQuery
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a list request (without its cursor)."""
    where: list[ColumnElement[bool]] = []
    narrowed = False  # an equality on assignee/team/integration picks a narrower index
    state = PageKeys.of(query).state
    if query.state == "any":
        pass
    elif query.view == "favourites" and query.tag is None:
        # ``state || ''`` keeps SQLite from reading the chats by a state index and probing
        # the stars for each: the join in select_chats() reads the few stars first.
        where.append(state.concat("") == query.state)
    else:
        where.append(state == query.state)
    view = query.view
    if view == "mine":
        where.append(c.assignee_id == ctx.id)
        narrowed = True
    elif view == "unread":
        where.append(unread_condition(ctx.id))
    elif view == "favourites":
        narrowed = True  # joined to the manager's stars in select_chats()
    elif view == "sessions":
        where.append(sessions_condition(ctx))
    elif view == "unassigned":
        # With the workspace: ix_chats_unassigned reads them latest first (migration 0010).
        where.append(c.assignee_id.is_(None))
    if query.manager_id is not None:
        where.append(c.assignee_id == query.manager_id)
        narrowed = True
    if query.team_id is not None:
        where.append(c.team_id == query.team_id)
        narrowed = True
    if query.integration is not None:
        where.append(c.integration_id == await _integration_id(conn, query.integration))
        narrowed = True
    if query.q is not None:
        where.append(search_condition(query.q))
    if query.tag is not None:
        # The tag's rows carry their chat's workspace too: the index's leading columns.
        where.append(s.chat_tags.c.workspace_id == ctx.workspace_id)
    elif not narrowed:
        where.append(c.workspace_id == ctx.workspace_id)
    return where


def select_chats(ctx: ManagerContext, query: ListQuery, *columns: Any) -> Select[Any]:
    """``SELECT columns FROM chats`` for a view: a tag's chats join the tag's rows, favourites
    the manager's stars.

    A manager's stars are few: the join reads them by primary key and sorts those, where an
    ``IN (stars)`` filter would walk every open chat of the channel checking each.
    """
    joined: Any = s.chats
    if query.tag is not None:
        t = s.chat_tags.c
        joined = joined.join(s.chat_tags, and_(t.chat_id == c.id, t.tag == query.tag))
    if query.view == "favourites":
        st = s.chat_stars.c
        joined = joined.join(s.chat_stars, and_(st.chat_id == c.id, st.manager_id == ctx.id))
    return select(*columns).select_from(joined)


@dataclass(frozen=True, slots=True)
class ChatPage:
    rows: list[Any]
    next_cursor: str | None


async def list_page(conn: AsyncConnection, manager: Manager, query: ListQuery) -> ChatPage:
    """One page of chat rows (``chats`` columns) and the cursor of the next page, if any."""
    ctx = await manager_context(conn, manager)
    where = await conditions(conn, ctx, query)
    keys = PageKeys.of(query)
    if query.cursor is not None:
        where.append(keys.after(query.cursor))
    statement = (
        select_chats(ctx, query, *s.chats.c)
        .where(*where)
        .order_by(*keys.order(query.sort))
        .limit(query.limit + 1)
    )
    rows = list((await conn.execute(statement)).all())
    if len(rows) <= query.limit:
        return ChatPage(rows, None)
    rows = rows[: query.limit]
    last = rows[-1]
    value = last.last_message_at if query.sort == "latest" else last.created_at
    return ChatPage(rows, Cursor(query.sort, value, int(last.id)).encode())


async def matching_chat_ids(
    conn: AsyncConnection, manager: Manager, query: Mapping[str, str], limit: int = 10_000
) -> list[int]:
    """Every chat id a list request with these query parameters would show ``manager``
    (all pages, in list order, at most ``limit``), for bulk actions on "all results of a
    search" (I7). ``cursor`` and ``limit`` of the list request are ignored."""
    params = {k: v for k, v in query.items() if k not in ("cursor", "limit")}
    parsed = parse_list_query(params)
    ctx = await manager_context(conn, manager)
    where = await conditions(conn, ctx, parsed)
    order = PageKeys.of(parsed).order(parsed.sort)
    statement = select_chats(ctx, parsed, c.id).where(*where).order_by(*order).limit(limit)
    return [int(row[0]) for row in await conn.execute(statement)]
