"""Linked Kakao channels (K2, K4, K8): the link's state machine, its services and defaults,
the rules for switching services off and deleting it, and its history, kept in the plugin's
SQLite under ``<data_dir>/kakao/links.sqlite3``.

States: ``waiting_for_token`` (the verification code went to the admin phone's KakaoTalk) →
``linked`` → ``deleted``. A Kakao channel (its search ID) has at most one link that is not
deleted: a unique index says so, so two requests at once cannot both link it. The sender key
NHN gives a linked channel is kept sealed with the server's secrets key
(``BridgeAPI.seal_secrets``), never in plain text.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bridgekit.channelkit import LocalStore
from bridgekit.exceptions import RequestRefused

SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    id INTEGER PRIMARY KEY, integration TEXT NOT NULL, search_id TEXT NOT NULL,
    category_code TEXT NOT NULL, admin_phone TEXT NOT NULL, state TEXT NOT NULL,
    consultation INTEGER NOT NULL, alimtalk INTEGER NOT NULL, brand INTEGER NOT NULL,
    consultation_integration TEXT NOT NULL DEFAULT '',
    front_home INTEGER NOT NULL DEFAULT 0, follow_up INTEGER NOT NULL DEFAULT 0,
    sealed_secrets TEXT NOT NULL DEFAULT '', sender_fingerprint TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL);
-- K4: one Kakao channel is never linked twice (a deleted link does not count).
CREATE UNIQUE INDEX IF NOT EXISTS one_link_per_kakao_channel ON links (search_id)
    WHERE state != 'deleted';
CREATE TABLE IF NOT EXISTS link_history (
    id INTEGER PRIMARY KEY, link_id INTEGER NOT NULL REFERENCES links (id), at TEXT NOT NULL,
    manager_id INTEGER, action TEXT NOT NULL, state TEXT NOT NULL, details TEXT NOT NULL);
"""

SERVICES = ("consultation", "alimtalk", "brand")
DEFAULTS = ("front_home", "follow_up")


class LinkState(StrEnum):
    WAITING_FOR_TOKEN = "waiting_for_token"
    LINKED = "linked"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    integration: str
    search_id: str
    category_code: str
    admin_phone: str
    state: LinkState
    services: dict[str, bool]
    consultation_integration: str
    front_home: bool
    follow_up: bool
    sealed_secrets: str
    created_at: str
    history: list[dict[str, Any]] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        """As the API shows it (never the sealed secrets)."""
        return {
            "id": self.id,
            "integration": self.integration,
            "search_id": self.search_id,
            "category_code": self.category_code,
            "admin_phone": self.admin_phone,
            "state": self.state.value,
            "services": self.services,
            "consultation_integration": self.consultation_integration or None,
            "front_home": self.front_home,
            "follow_up": self.follow_up,
            "created_at": self.created_at,
            "history": self.history,
        }


def normal_search_id(value: str) -> str:
    """Kakao's search ID (검색용 아이디) as NHN wants ``plusFriendId``: ``@`` and lower case."""
    value = value.strip().lower()
    return value if value.startswith("@") else "@" + value


def refused(message: str, code: str, status: int = 400, **details: str | int) -> RequestRefused:
    return RequestRefused(message, status=status, code=code, details=dict(details))


def check_services(services: Mapping[str, bool]) -> None:
    """K8: the three services cannot all be off; one stays on."""
    if not any(services.get(name) for name in SERVICES):
        raise refused(
            "consultation talk, Alimtalk and brand messages cannot all be off: keep one on, or "
            "delete the link",
            "kakao_one_service_required",
        )


def check_not_default(link: Link, doing: str) -> None:
    """K8: a channel shown on the front home or used for follow-up Alimtalk can neither have a
    service switched off nor be deleted; make another channel the default first."""
    roles = [name for name, on in (("front_home", link.front_home), ("follow_up", link.follow_up)) if on]
    if roles:
        raise refused(
            f"{link.search_id} is the default Kakao channel for {' and '.join(roles)}: it cannot {doing}; "
            "make another linked channel the default first",
            "kakao_link_is_default",
            409,
            search_id=link.search_id,
            defaults=",".join(roles),
        )


class LinkStore(LocalStore):
    """Small synchronous writes; one connection, one lock (like :class:`store.Store`)."""

    SCHEMA = SCHEMA
    PRAGMAS = ("foreign_keys=ON",)

    def _rows(self, where: str = "", args: tuple[Any, ...] = ()) -> list[Link]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, integration, search_id, category_code, admin_phone, state, consultation, "
                "alimtalk, brand, consultation_integration, front_home, follow_up, sealed_secrets, "
                f"created_at FROM links {where} ORDER BY id",
                args,
            ).fetchall()
            history: dict[int, list[dict[str, Any]]] = {}
            ids = [r[0] for r in rows]
            marks = ", ".join("?" * len(ids))
            for link_id, at, manager_id, action, state, details in self._db.execute(
                "SELECT link_id, at, manager_id, action, state, details FROM link_history "
                f"WHERE link_id IN ({marks}) ORDER BY id",
                ids,
            ):
                history.setdefault(link_id, []).append(
                    {
                        "at": at,
                        "manager_id": manager_id,
                        "action": action,
                        "state": state,
                        "details": json.loads(details),
                    }
                )
        return [
            Link(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                LinkState(r[5]),
                dict(zip(SERVICES, (bool(r[6]), bool(r[7]), bool(r[8])), strict=True)),
                r[9],
                bool(r[10]),
                bool(r[11]),
                r[12],
                r[13],
                history.get(r[0], []),
            )
            for r in rows
        ]

    def links(self, *, with_deleted: bool = True) -> list[Link]:
        return self._rows("" if with_deleted else "WHERE state != 'deleted'")

    def link(self, link_id: int) -> Link:
        found = self._rows("WHERE id = ?", (link_id,))
        if not found:
            raise refused(f"no Kakao link {link_id}", "kakao_link_not_found", 404)
        return found[0]

    def latest_with_sender(self, fingerprint: str) -> Link | None:
        """The newest link whose channel got this sender key (deleted ones too)."""
        found = self._rows("WHERE sender_fingerprint = ?", (fingerprint,))
        return found[-1] if found else None

    def was_deleted(self, search_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                # Linked once (NHN gave it a sender key), then deleted: NHN deleted its templates.
                "SELECT 1 FROM links WHERE search_id = ? AND state = 'deleted' AND sender_fingerprint != ''",
                (search_id,),
            ).fetchone()
        return row is not None

    def _record(
        self, link_id: int, manager_id: int | None, action: str, state: LinkState, **details: Any
    ) -> None:
        self._db.execute(
            "INSERT INTO link_history (link_id, at, manager_id, action, state, details) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (link_id, datetime.now(UTC).isoformat(), manager_id, action, state.value, json.dumps(details)),
        )

    def start(
        self,
        *,
        integration: str,
        search_id: str,
        category_code: str,
        admin_phone: str,
        services: Mapping[str, bool],
        consultation_integration: str,
        manager_id: int,
    ) -> Link:
        """A link waiting for its token; refused when the channel is linked (or being linked)."""
        try:
            with self._lock, self._db:
                cursor = self._db.execute(
                    "INSERT INTO links (integration, search_id, category_code, admin_phone, state, "
                    "consultation, alimtalk, brand, consultation_integration, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        integration,
                        search_id,
                        category_code,
                        admin_phone,
                        LinkState.WAITING_FOR_TOKEN.value,
                        *(int(bool(services.get(name))) for name in SERVICES),
                        consultation_integration,
                        datetime.now(UTC).isoformat(),
                    ),
                )
                link_id = int(cursor.lastrowid or 0)
                self._record(
                    link_id,
                    manager_id,
                    "verification_code_sent",
                    LinkState.WAITING_FOR_TOKEN,
                    services=dict(services),
                    category_code=category_code,
                )
        except sqlite3.IntegrityError:
            raise already_linked(search_id) from None
        return self.link(link_id)

    def drop_unverified(self, link_id: int) -> None:
        """A link NHN refused to register never existed (its history goes with it)."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM link_history WHERE link_id = ?", (link_id,))
            self._db.execute(
                "DELETE FROM links WHERE id = ? AND state = ?", (link_id, LinkState.WAITING_FOR_TOKEN)
            )

    def verified(
        self, link_id: int, sealed_secrets: str, fingerprint: str, manager_id: int, relinked: bool
    ) -> Link:
        """Linked; the first linked channel becomes the default for both roles (K4)."""
        with self._lock, self._db:
            has_front, has_follow = self._db.execute(
                "SELECT COALESCE(MAX(front_home), 0), COALESCE(MAX(follow_up), 0) FROM links "
                "WHERE state = 'linked'"
            ).fetchone()
            front, follow = not has_front, not has_follow
            self._db.execute(
                "UPDATE links SET state = ?, sealed_secrets = ?, sender_fingerprint = ?, front_home = ?, "
                "follow_up = ? WHERE id = ?",
                (LinkState.LINKED.value, sealed_secrets, fingerprint, int(front), int(follow), link_id),
            )
            self._record(
                link_id,
                manager_id,
                "linked",
                LinkState.LINKED,
                front_home=front,
                follow_up=follow,
                relinked_after_delete=relinked,
            )
        return self.link(link_id)

    def set_services(self, link: Link, services: Mapping[str, bool], manager_id: int) -> Link:
        with self._lock, self._db:
            self._db.execute(
                "UPDATE links SET consultation = ?, alimtalk = ?, brand = ? WHERE id = ?",
                (*(int(bool(services[name])) for name in SERVICES), link.id),
            )
            changed = {k: v for k, v in services.items() if link.services.get(k) != v}
            self._record(link.id, manager_id, "services_changed", link.state, **changed)
        return self.link(link.id)

    def make_default(self, link: Link, role: str, on: bool, manager_id: int) -> Link:
        """``role`` (front_home or follow_up) moves to ``link`` (on) or is left unset (off)."""
        assert role in DEFAULTS
        with self._lock, self._db:
            if on:  # the link it moves from records the change too
                losing = self._db.execute(
                    f"SELECT id, state FROM links WHERE {role} = 1 AND id != ?", (link.id,)
                )
                for other_id, other_state in losing.fetchall():
                    self._record(
                        other_id, manager_id, "default_changed", LinkState(other_state), **{role: False}
                    )
                self._db.execute(f"UPDATE links SET {role} = 0 WHERE id != ?", (link.id,))
            self._db.execute(f"UPDATE links SET {role} = ? WHERE id = ?", (int(on), link.id))
            self._record(link.id, manager_id, "default_changed", link.state, **{role: on})
        return self.link(link.id)

    def reseal(self, reseal: Callable[[str], str]) -> None:
        """Every stored secret sealed again (with the server's first key, after a rotation)."""
        with self._lock, self._db:
            rows = self._db.execute("SELECT id, sealed_secrets FROM links WHERE sealed_secrets != ''")
            for link_id, sealed in rows.fetchall():
                sealed_again = reseal(sealed)
                self._db.execute("UPDATE links SET sealed_secrets = ? WHERE id = ?", (sealed_again, link_id))

    def deleted(self, link: Link, manager_id: int) -> Link:
        with self._lock, self._db:
            self._db.execute(
                "UPDATE links SET state = ?, sealed_secrets = '', front_home = 0, follow_up = 0 WHERE id = ?",
                (LinkState.DELETED.value, link.id),
            )
            self._record(link.id, manager_id, "deleted", LinkState.DELETED)
        return self.link(link.id)


def fingerprint(sender_key: str) -> str:
    """What is kept of a sender key in the clear: enough to recognise it, not to use it."""
    return hashlib.sha256(sender_key.encode()).hexdigest()


def already_linked(search_id: str) -> RequestRefused:
    return refused(
        f"the Kakao channel {search_id} is already linked (or waiting for its verification code): "
        "a Kakao channel can be linked only once",
        "kakao_channel_already_linked",
        409,
        search_id=search_id,
    )
