"""Browser tests drive Debian's ``chromium`` through Playwright for Python (never Playwright's
own browser download: tests download nothing). ``scripts/test`` installs the package.

A missing browser is a failure naming the package, not a skip: a suite that quietly skips its
browser tests looks green while proving nothing. ``BRIDGEKIT_SKIP_BROWSER_TESTS=1`` skips them
on purpose, and says so.
"""

from __future__ import annotations

import os
import shutil
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
import pytest_asyncio
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import update

import bridgekit
from bridgekit.flow import MessageEvent
from bridgekit.inbox.customers import new_lead
from bridgekit.inbox.managers import create_manager
from bridgekit.inbox.sessions import create_password_link, use_password_link
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.testing.databases import copy_migrated_database, temporary_database
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


@asynccontextmanager
async def running_bridge(
    tmp_path: Path,
    plugins: Mapping[str, object],
    integrations: Mapping[str, Mapping[str, Any]] | None = None,
    tls: tuple[ssl.SSLContext, ssl.SSLContext] | None = None,
) -> AsyncIterator[RunningBridge]:
    """A real bridgekit on SQLite with ``plugins``, served on 127.0.0.1 like ``bridgekit
    serve``; on leaving, the server closes, then each plugin that has ``aclose``."""
    async with temporary_database("sqlite", tmp_path) as url:
        await copy_migrated_database(url)
        running = await start_bridge(
            database_url=url,
            data_dir=tmp_path / "data",
            plugins=plugins,
            integrations=integrations,
            tls=tls,
        )
        try:
            yield running
        finally:
            await running.close()
            for plugin in plugins.values():
                aclose = getattr(plugin, "aclose", None)
                if aclose is not None:
                    await aclose()


@asynccontextmanager
async def watched_page(
    browser: Browser, problems: list[str] | None = None, **options: Any
) -> AsyncIterator[tuple[Page, list[str]]]:
    """A page in a browser context of its own (its own cookies: another person), and the list
    ``watch`` fills with its problems (``problems`` when given: one list for several pages);
    ``options`` go to ``browser.new_context``."""
    context = await browser.new_context(**options)
    try:
        page = await context.new_page()
        problems = [] if problems is None else problems
        watch(page, problems)
        yield page, problems
    finally:
        await context.close()


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningBridge]:
    """A real bridgekit on SQLite with no plugins."""
    async with running_bridge(tmp_path, {}) as running:
        yield running


# --- the inbox with the LINE sandbox, a signed-up operator and a browser page ----------

NAME = "김민지 (Kim Minji)"
EMAIL = "minji@example.com"
PASSWORD = "correct horse battery staple"
CUSTOMER = "이서연"  # the LINE user's display name: Korean text must render as written


NO_SEAT = "This needs the operator seat. Ask an administrator to give you one."  # the page's words
HELP = "도와주세요"  # what makes the bot answer


def line_integration(line: LineSandbox) -> dict[str, object]:
    """The integration settings that point the LINE plugin at ``line``."""
    return {
        "channel": "line",
        "settings": line.integration_settings(),
        "secrets": line.integration_secrets(),
    }


async def sign_up(
    server: RunningBridge,
    name: str,
    email: str = EMAIL,
    *,
    operator: bool = False,
    permissions: tuple[str, ...] = (),
    password: str = PASSWORD,
) -> int:
    """A manager who has used their invitation link to set ``password``; their id."""
    db = server.bridge.db
    manager_id, _ = await create_manager(
        db, server.bridge.workspace_id, name, operator=operator, permissions=permissions, email=email
    )
    assert await use_password_link(db, await create_password_link(db, manager_id), password) is not None
    return manager_id


SIGN_IN_WORDS = ("Email", "Password", "Sign in")  # the sign-in form's labels and button
SIGN_IN_WORDS_KO = ("이메일", "비밀번호", "로그인")


async def take_the_seat(server: RunningBridge, manager_id: int) -> None:
    """An administrator takes ``manager_id``'s operator seat away, behind their page's back."""
    async with server.bridge.db.write() as conn:
        await conn.execute(update(s.managers).where(s.managers.c.id == manager_id).values(operator=False))


async def phone_customer(server: RunningBridge, name: str, phone: str) -> int:
    """A customer known by ``phone`` alone (an order system's lead, with consent); their id."""
    async with server.bridge.db.write() as conn:
        customer_id, _ = await new_lead(
            conn, server.bridge.workspace_id, name, ("phone", 0, phone), True, utcnow()
        )
    return customer_id


async def fill_sign_in(
    page: Page, email: str = EMAIL, password: str = PASSWORD, *, words: tuple[str, str, str] = SIGN_IN_WORDS
) -> None:
    """Fill in and send the sign-in form ``page`` shows (in the language of ``words``)."""
    email_label, password_label, button = words
    await page.get_by_label(email_label).fill(email)
    await page.get_by_label(password_label).fill(password)
    await page.get_by_role("button", name=button).click()


async def sign_in(page: Page, url: str, email: str = EMAIL, password: str = PASSWORD) -> None:
    """Sign in at ``url``'s sign-in page and wait for the inbox."""
    await page.goto(f"{url}/sign-in")
    await fill_sign_in(page, email, password)
    await expect(page).to_have_url(f"{url}/")


class HelpBot:
    """Answers a customer who asks for help, and no one else."""

    @bridgekit.hookimpl
    def bridgekit_message_received(self, event: MessageEvent) -> None:
        if event.message is not None and event.message.text == HELP:
            event.reply("무엇을 도와드릴까요?")


SandboxT = TypeVar("SandboxT")


@dataclass
class SandboxPage(Generic[SandboxT]):
    """A bridgekit wired to a provider's sandbox, and a watched page to drive it with."""

    server: RunningBridge
    sandbox: SandboxT
    page: Page
    problems: list[str]  # console errors and uncaught exceptions (a CSP violation is one)


@dataclass
class People:
    """A bridgekit with the LINE sandbox where each person has a browser of their own."""

    server: RunningBridge
    line: LineSandbox
    browser: Browser
    pages: AsyncExitStack  # closes every page's browser context
    problems: list[str]  # console errors and uncaught exceptions (a CSP violation is one)

    async def page(self, **options: Any) -> Page:
        """A page in a browser of its own (its own cookies: another person)."""
        page, _ = await self.pages.enter_async_context(watched_page(self.browser, self.problems, **options))
        return page


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
        await fill_sign_in(self.page)


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


@dataclass
class Desk:
    """A served bridgekit and the page of its operator (``NAME``, ``EMAIL``), not yet signed in."""

    server: RunningBridge
    page: Page
    problems: list[str]  # console errors and uncaught exceptions (a CSP violation is one)
    manager_id: int


@asynccontextmanager
async def operator_desk(
    browser: Browser,
    tmp_path: Path,
    plugins: Mapping[str, object],
    integrations: Mapping[str, Mapping[str, Any]],
) -> AsyncIterator[Desk]:
    """``running_bridge`` with ``plugins``, an operator signed up on it and a watched page."""
    async with (
        running_bridge(tmp_path, plugins, integrations) as server,
        watched_page(browser) as (page, problems),
    ):
        yield Desk(server, page, problems, await sign_up(server, NAME, operator=True))


@pytest_asyncio.fixture
async def inbox(browser: Browser, tmp_path: Path) -> AsyncIterator[Inbox]:
    async with LineSandbox() as line:
        plugins = {"line": LinePlugin(), "bot": HelpBot()}
        async with operator_desk(browser, tmp_path, plugins, {"acme": line_integration(line)}) as desk:
            yield Inbox(desk.server, line, desk.page, desk.manager_id, desk.problems)
