"""F8, K7: what the workspace was charged in a month, per integration and kind of charge, from
the ledger the outbox and ``record_charge`` write: ``GET /api/v1/usage`` for admins and
``bridgekit usage`` on the command line."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from bridgekit.cli import main
from bridgekit.inbox.charges import UsageRefused, month_bounds
from bridgekit.inbox.managers import ADMIN
from bridgekit.model import Charge
from bridgekit.testing.harness import RunningBridge
from bridgekit.web.sessions_http import safe_next
from tests.conftest import StartTestchat, customer_writes
from tests.inbox.chats_support import Client, manager
from tests.support.sandbox import SandboxProvider

SEOUL = "Asia/Seoul"


def this_month(zone: str = SEOUL) -> str:
    return datetime.now(ZoneInfo(zone)).strftime("%Y-%m")


def last_month(zone: str = SEOUL) -> str:
    now = datetime.now(ZoneInfo(zone))
    return f"{now.year - 1}-12" if now.month == 1 else f"{now.year}-{now.month - 1:02d}"


async def sent_replies(running: RunningBridge, sandbox: SandboxProvider, chat_id: int, count: int) -> None:
    for n in range(count):
        await running.reply(chat_id, f"answer {n}")
    await running.wait_for(lambda: _when_all_sent(running, chat_id, count))


async def three_sent_and_one_failed(running: RunningBridge, sandbox: SandboxProvider, chat_id: int) -> None:
    """Three replies sent (the test channel bills 7 PU a send), then one refused for good (a
    failed send is free)."""
    await sent_replies(running, sandbox, chat_id, 3)
    sandbox.fail_next(400)
    await running.reply(chat_id, "this one fails")
    await running.wait_for(lambda: _when_all_sent(running, chat_id, 4))


async def _when_all_sent(running: RunningBridge, chat_id: int, count: int) -> Any:
    messages = await running.messages(chat_id)
    done = [
        m for m in messages if m["direction"] == "outbound" and m["delivery_status"] in ("sent", "failed")
    ]
    return done if len(done) >= count else None


@dataclass
class Billed:
    """A bridge whose chat had three paid replies and one failed, and an admin's session."""

    running: RunningBridge
    admin: Client
    chat_id: int


@pytest_asyncio.fixture
async def billed(start_testchat: StartTestchat, sandbox: SandboxProvider) -> Billed:
    running = await start_testchat()
    admin = await manager(running, "Admin", permissions=(ADMIN,))
    chat_id = await customer_writes(running, "hello")
    await three_sent_and_one_failed(running, sandbox, chat_id)
    return Billed(running, admin, chat_id)


async def test_f8_a_month_counts_every_paid_send_and_charge_once_and_no_failed_send(billed: Billed) -> None:
    running, admin = billed.running, billed.admin
    # A charge that is not a send (a Kakao consultation), twice for the same window: once.
    for _ in range(2):
        await running.bridge.record_charge("acme", Charge(80, "consultation", "consultation u-1 2026-12-07"))

    usage = await admin.ok("GET", f"/usage?month={this_month()}&time_zone={SEOUL}")
    assert usage["month"] == this_month()
    assert usage["time_zone"] == SEOUL
    assert usage["lines"] == [
        {
            "integration": "acme",
            "channel": "testchat",
            "category": "consultation",
            "charges": 1,
            "amount_pu": 80,
        },
        {"integration": "acme", "channel": "testchat", "category": "test", "charges": 3, "amount_pu": 21},
    ]
    assert (usage["total_pu"], usage["charges"]) == (101, 4)
    # Seoul's month starts at 15:00 UTC the day before.
    assert usage["from"].endswith("T15:00:00Z")

    before = await admin.ok("GET", f"/usage?month={last_month()}&time_zone={SEOUL}")
    assert (before["lines"], before["total_pu"], before["charges"]) == ([], 0, 0)
    default = await admin.ok("GET", "/usage")  # the running month in UTC
    assert default["time_zone"] == "UTC"
    assert default["month"] == this_month("UTC")
    assert await admin.ok("GET", "/usage?month=&time_zone=") == default  # a cleared form field


async def test_usage_is_for_admins_and_says_what_is_wrong_with_the_month_or_the_zone(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    admin = await manager(running, "Admin", permissions=(ADMIN,))
    operator = await manager(running, "Kim")

    status, answer = await operator.call("GET", "/usage")
    assert status == 403
    assert answer["code"] == "permission"
    status, answer = await admin.call("GET", "/usage?month=2026-13")
    assert (status, answer["error"]) == (400, "month must be YYYY-MM, not '2026-13'")
    status, answer = await admin.call("GET", "/usage?month=December")
    assert (status, answer["error"]) == (400, "month must be YYYY-MM, not 'December'")
    status, answer = await admin.call("GET", "/usage?time_zone=Mars/Olympus")
    assert status == 400
    assert answer["error"].startswith("unknown time zone 'Mars/Olympus': use an IANA name")
    status, answer = await admin.call("GET", "/usage?time_zone=../../etc/passwd")
    assert status == 400  # a zone name is never a path to read


def test_a_month_is_the_calendar_month_of_its_time_zone_summer_time_included() -> None:
    assert month_bounds("2026-12", "Asia/Seoul")[2:] == (
        datetime(2026, 11, 30, 15),
        datetime(2026, 12, 31, 15),
    )
    # New York: EST (UTC-5) on 1 March, EDT (UTC-4) on 1 April.
    assert month_bounds("2026-03", "America/New_York")[2:] == (
        datetime(2026, 3, 1, 5),
        datetime(2026, 4, 1, 4),
    )
    assert month_bounds("2026-12", None)[1:] == ("UTC", datetime(2026, 12, 1), datetime(2027, 1, 1))
    for month in ("0000-01", "9999-12", "١٢٣٤-١٢", "2026-1", "2026-12\n"):  # 9999-12 ends past datetime
        with pytest.raises(UsageRefused, match="month must be YYYY-MM"):
            month_bounds(month, "UTC")
    for zone in ("a" * 5000, "Asia/../Seoul", "/etc/localtime", "\x00", "\ud800"):
        with pytest.raises(UsageRefused, match="unknown time zone"):
            month_bounds("2026-12", zone)


async def test_bridgekit_usage_prints_the_month_per_integration(
    start_testchat: StartTestchat, sandbox: SandboxProvider, db_url: str, tmp_path: Path, capsys: Any
) -> None:
    running = await start_testchat()
    chat_id = await customer_writes(running, "hello")
    await sent_replies(running, sandbox, chat_id, 2)
    toml = tmp_path / "usage.toml"
    toml.write_text(f'data_dir = "{tmp_path / "cli"}"\n[database]\nurl = "{db_url}"\n')

    args = ["usage", "--config", str(toml), "--month", this_month(), "--time-zone", SEOUL]
    assert await asyncio.to_thread(main, args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"usage in {this_month()} (Asia/Seoul: ")
    assert lines[1].split() == ["integration", "channel", "category", "charges", "PU"]
    assert lines[2].split() == ["acme", "testchat", "test", "2", "14"]
    assert lines[3].split() == ["total", "2", "14"]

    assert await asyncio.to_thread(main, [*args[:3], "--month", "2026/12"]) == 2
    assert "bridgekit: month must be YYYY-MM, not '2026/12'" in capsys.readouterr().err


def test_signing_in_or_switching_language_returns_to_the_usage_page_with_its_month_only() -> None:
    kept = "/admin/usage?month=2026-12&time_zone=Asia%2FSeoul"
    assert safe_next(kept) == kept
    for elsewhere in ("/admin/usage?x=//evil.example", "/admin/usage//evil.example", "/admin/usage?a=b\nc"):
        assert safe_next(elsewhere) == "/"


async def test_k7_every_paid_send_is_in_the_months_history_with_its_message_and_chat(billed: Billed) -> None:
    running, admin, chat_id = billed.running, billed.admin, billed.chat_id
    await running.bridge.record_charge("acme", Charge(80, "consultation", "consultation u-1 2026-12-07"))
    sent = {
        m["id"]: m["provider_message_id"]
        for m in await running.messages(chat_id)
        if m["direction"] == "outbound" and m["delivery_status"] == "sent"
    }

    query = f"month={this_month()}&time_zone={SEOUL}"
    first = await admin.ok("GET", f"/usage/charges?{query}&limit=2")
    assert (first["month"], first["time_zone"]) == (this_month(), SEOUL)
    newest, second = first["charges"]
    assert newest["category"] == "consultation"
    assert (newest["amount_pu"], newest["message_id"], newest["chat_id"]) == (80, None, None)
    assert newest["description"] == "consultation u-1 2026-12-07"
    assert newest["id"] > second["id"]
    assert newest["at"] >= second["at"]
    rest = await admin.ok("GET", f"/usage/charges?{query}&before={second['id']}")
    sends = [second, *rest["charges"]]
    # The failed fourth reply is not there: three sends, each once, with its message and chat.
    assert sorted(c["message_id"] for c in sends) == sorted(sent)
    assert {(c["integration"], c["channel"], c["category"], c["amount_pu"], c["chat_id"]) for c in sends} == {
        ("acme", "testchat", "test", 7, chat_id)
    }
    assert {c["description"] for c in sends} == {f"test send {p}" for p in sent.values()}
    assert all(c["at"].endswith("Z") for c in sends)
    end = await admin.ok("GET", f"/usage/charges?{query}&before={sends[-1]['id']}")
    assert end["charges"] == []

    operator = await manager(running, "Kim")
    assert (await operator.call("GET", "/usage/charges"))[0] == 403
    status, answer = await admin.call("GET", "/usage/charges?before=0")
    assert (status, answer["error"]) == (400, "before must be between 1 and 2147483647")
    status, answer = await admin.call("GET", "/usage/charges?month=2026-13")
    assert (status, answer["code"]) == (400, "usage_month")
