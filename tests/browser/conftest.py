"""Browser tests drive Debian's ``chromium`` through Playwright for Python (never Playwright's
own browser download: tests download nothing). ``scripts/test`` installs the package.

A missing browser is a failure naming the package, not a skip: a suite that quietly skips its
browser tests looks green while proving nothing. ``BRIDGEKIT_SKIP_BROWSER_TESTS=1`` skips them
on purpose, and says so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox
from playwright.async_api import Browser, Page, async_playwright, expect

import bridgekit
from bridgekit.flow import MessageEvent
from bridgekit.inbox.managers import create_manager
from bridgekit.inbox.sessions import create_password_link, use_password_link
from bridgekit.testing.databases import temporary_database
from bridgekit.testing.harness import RunningBridge, start_bridge

MISSING = (
    "Chromium is missing: these tests need Debian's chromium package "
    "(apt-get install -y chromium fonts-noto-cjk; scripts/test installs it when run as root), "
    "or BRIDGEKIT_CHROMIUM=/path/to/chromium. BRIDGEKIT_SKIP_BROWSER_TESTS=1 skips them on purpose."
)

# A page's expectation waits up to 15 s, not Playwright's 5: on a loaded CI machine a live
# update can take longer, and a passing expectation returns as soon as it holds.
expect.set_options(timeout=15_000)


def chromium_path() -> str:
    path = os.environ.get("BRIDGEKIT_CHROMIUM") or shutil.which("chromium")
    if os.environ.get("BRIDGEKIT_SKIP_BROWSER_TESTS") == "1":
        pytest.skip("browser tests skipped on purpose (BRIDGEKIT_SKIP_BROWSER_TESTS=1)")
    if path is None or not Path(path).exists():
        pytest.fail(MISSING, pytrace=False)
    return path


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    # Root (CI containers) cannot use Chromium's sandbox.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=args, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningBridge]:
    """A real bridgekit on SQLite, served on 127.0.0.1 like ``bridgekit serve``."""
    async with temporary_database("sqlite", tmp_path) as url:
        running = await start_bridge(database_url=url, data_dir=tmp_path / "data", plugins={})
        try:
            yield running
        finally:
            await running.close()


# --- the inbox with the LINE sandbox, a signed-up operator and a browser page ----------

NAME = "김민지 (Kim Minji)"
EMAIL = "minji@example.com"
PASSWORD = "correct horse battery staple"
CUSTOMER = "이서연"  # the LINE user's display name: Korean text must render as written


NO_SEAT = "This needs the operator seat. Ask an administrator to give you one."  # the page's words
HELP = "도와주세요"  # what makes the bot answer


class HelpBot:
    """Answers a customer who asks for help, and no one else."""

    @bridgekit.hookimpl
    def bridgekit_message_received(self, event: MessageEvent) -> None:
        if event.message is not None and event.message.text == HELP:
            event.reply("무엇을 도와드릴까요?")


@dataclass
class Inbox:
    server: RunningBridge
    line: LineSandbox
    page: Page
    manager_id: int
    problems: list[str]  # console errors and uncaught exceptions (a CSP violation is one)

    async def customer_writes(self, user_id: str, text: str) -> None:
        event = self.line.webhooks.text(user_id, text)
        answer = await self.line.webhooks.post(f"{self.server.url}/hooks/acme", [event])
        assert answer.status == 200, answer

    async def post(self, *events: dict[str, object]) -> None:
        answer = await self.line.webhooks.post(f"{self.server.url}/hooks/acme", list(events))
        assert answer.status == 200, answer

    async def sign_in(self) -> None:
        await self.page.get_by_label("Email").fill(EMAIL)
        await self.page.get_by_label("Password").fill(PASSWORD)
        await self.page.get_by_role("button", name="Sign in").click()


def _problem(kind: str, text: str) -> bool:
    """A console error, except the browser's own note of an API refusal the test asks for."""
    return kind == "error" and not text.startswith(
        "Failed to load resource: the server responded with a status of 4"
    )


def watch(page: Page, problems: list[str]) -> None:
    """Collect ``page``'s console errors and uncaught exceptions (a CSP violation is one) into
    ``problems``: a test ends by asserting it is empty."""
    page.on("console", lambda msg: problems.append(msg.text) if _problem(msg.type, msg.text) else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))


@pytest_asyncio.fixture
async def inbox(browser: Browser, tmp_path: Path) -> AsyncIterator[Inbox]:
    async with LineSandbox() as line, temporary_database("sqlite", tmp_path) as url:
        plugin = LinePlugin()
        integration = {
            "channel": "line",
            "settings": line.integration_settings(),
            "secrets": line.integration_secrets(),
        }
        server = await start_bridge(
            database_url=url,
            data_dir=tmp_path / "data",
            plugins={"line": plugin, "bot": HelpBot()},
            integrations={"acme": integration},
        )
        context = await browser.new_context()
        try:
            manager_id, _ = await create_manager(
                server.bridge.db, server.bridge.workspace_id, NAME, operator=True, email=EMAIL
            )
            link = await create_password_link(server.bridge.db, manager_id)
            assert await use_password_link(server.bridge.db, link, PASSWORD) is not None
            page = await context.new_page()
            problems: list[str] = []
            watch(page, problems)
            yield Inbox(server, line, page, manager_id, problems)
        finally:
            await context.close()
            await server.close()
            await plugin.aclose()
