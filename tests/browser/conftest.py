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
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from bridgekit.testing.databases import temporary_database
from bridgekit.testing.harness import RunningBridge, start_bridge

MISSING = (
    "Chromium is missing: these tests need Debian's chromium package "
    "(apt-get install -y chromium fonts-noto-cjk; scripts/test installs it when run as root), "
    "or BRIDGEKIT_CHROMIUM=/path/to/chromium. BRIDGEKIT_SKIP_BROWSER_TESTS=1 skips them on purpose."
)


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
