"""One customer per verified handle: merge the duplicates, then let the database enforce it

Several ``bridgekit serve`` processes on one PostgreSQL each created a customer for the same
new LINE user (each read "nobody has this userId" before the other committed). The customers
sharing a verified handle are merged into the oldest one, transitively (A and B share a
userId, B and C an email: one customer): contacts, chats, customer events and profile fields
move to it, the others are deleted. Then ``uq_contacts_verified_handle`` makes a second owner
impossible. Unverified handles are left alone: one may legitimately sit on several customers
(an email typed into a form), so sharing one says nothing about being one person.

The merged customer keeps its own name and profile fields and takes the others' where it has
none; it stays a lead only if every merged customer was one. Chats are moved, not merged.

Revision ID: 0011_one_customer_per_handle
Revises: 0010_chat_counts
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection

revision = "0011_one_customer_per_handle"
down_revision = "0010_chat_counts"
branch_labels = None
depends_on = None

INDEX = "uq_contacts_verified_handle"


def upgrade() -> None:
    _merge_duplicates(op.get_bind())
    op.create_index(
        INDEX,
        "contacts",
        ["kind", "scope", "value"],
        unique=True,
        sqlite_where=sa.text("verified"),
        postgresql_where=sa.text("verified"),
    )


def downgrade() -> None:
    raise NotImplementedError("bridgekit migrates forward only")


def _merge_duplicates(bind: Connection) -> None:
    shared = bind.execute(
        sa.text(
            "SELECT ct.kind, ct.scope, ct.value, ct.customer_id FROM contacts ct"
            " JOIN (SELECT kind, scope, value FROM contacts WHERE verified"
            "       GROUP BY kind, scope, value HAVING count(*) > 1) d"
            " ON d.kind = ct.kind AND d.scope = ct.scope AND d.value = ct.value"
            " WHERE ct.verified"
        )
    ).all()
    if not shared:
        return
    customers = {
        int(r.id): r
        for r in bind.execute(
            sa.text(
                "SELECT id, name, is_lead, profile, created_at FROM customers"
                " WHERE id IN (SELECT customer_id FROM contacts WHERE verified)"
            )
        )
    }
    # Union-find over customers that share a verified handle.
    parent: dict[int, int] = {}

    def root(cid: int) -> int:
        while parent.get(cid, cid) != cid:
            cid = parent[cid]
        return cid

    by_handle: dict[tuple[str, int, str], list[int]] = defaultdict(list)
    for kind, scope, value, customer_id in shared:
        by_handle[(kind, scope, value)].append(int(customer_id))
    for owners in by_handle.values():
        first = root(owners[0])
        for other in owners[1:]:
            parent[root(other)] = first
    groups: dict[int, list[int]] = defaultdict(list)
    for cid in {c for owners in by_handle.values() for c in owners}:
        groups[root(cid)].append(cid)
    for members in groups.values():
        oldest = min(members, key=lambda c: (customers[c].created_at, c))
        _merge(bind, oldest, [c for c in members if c != oldest], customers)


def _merge(bind: Connection, keeper: int, others: list[int], customers: dict[int, Any]) -> None:
    params = {"keeper": keeper, "others": others}
    expanding: sa.BindParameter[list[int]] = sa.bindparam("others", expanding=True)

    def run(sql: str) -> None:
        bind.execute(sa.text(sql).bindparams(expanding), params)

    # One contact per handle: the keeper's, else the oldest. Chats using a dropped one use the
    # kept one, which is verified if either was.
    contacts = bind.execute(
        sa.text(
            "SELECT id, customer_id, kind, scope, value, verified FROM contacts"
            " WHERE customer_id = :keeper OR customer_id IN :others ORDER BY id"
        ).bindparams(expanding),
        params,
    ).all()
    kept: dict[tuple[str, int, str], int] = {}
    for row in sorted(contacts, key=lambda r: (r.customer_id != keeper, r.id)):
        first = kept.setdefault((row.kind, row.scope, row.value), int(row.id))
        if first == row.id:
            continue
        ids = {"kept": first, "dropped": int(row.id)}
        bind.execute(sa.text("UPDATE chats SET contact_id = :kept WHERE contact_id = :dropped"), ids)
        bind.execute(sa.text("DELETE FROM contacts WHERE id = :dropped"), ids)
        if row.verified:
            bind.execute(
                sa.text("UPDATE contacts SET verified = :yes WHERE id = :kept"), {**ids, "yes": True}
            )
    run("UPDATE contacts SET customer_id = :keeper WHERE customer_id IN :others")
    run("UPDATE chats SET customer_id = :keeper WHERE customer_id IN :others")
    run("UPDATE customer_events SET customer_id = :keeper WHERE customer_id IN :others")
    run("UPDATE messages SET author_id = :keeper WHERE author_kind = 'customer' AND author_id IN :others")
    kept_row = customers[keeper]
    name = kept_row.name
    profile: dict[str, Any] = {}
    is_lead = bool(kept_row.is_lead)
    for cid in sorted(others, key=lambda c: (customers[c].created_at, c)):
        row = customers[cid]
        name = name or row.name
        profile = {**_profile(row.profile), **profile}  # the older customer's field wins
        is_lead = is_lead and bool(row.is_lead)
    profile.update(_profile(kept_row.profile))  # and the keeper's own fields over all
    bind.execute(
        sa.text("UPDATE customers SET name = :name, is_lead = :lead, profile = :profile WHERE id = :keeper"),
        {"name": name, "lead": is_lead, "profile": json.dumps(profile), "keeper": keeper},
    )
    run("DELETE FROM customers WHERE id IN :others")


def _profile(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value or "{}")
    return dict(value) if isinstance(value, dict) else {}
