"""Signing in, refusing, rate limiting and signing out, in a real Chromium against a real
bridgekit: what a manager sees, and that another site's page cannot act with their cookie."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from bridgekit.inbox.managers import create_manager
from bridgekit.inbox.sessions import create_password_link
from bridgekit.testing.harness import RunningBridge
from tests.browser.conftest import EMAIL, NAME, PASSWORD, fill_sign_in


async def _link(server: RunningBridge) -> str:
    manager_id, _ = await create_manager(
        server.bridge.db, server.bridge.workspace_id, NAME, operator=True, email=EMAIL
    )
    return f"{server.url}/set-password/{await create_password_link(server.bridge.db, manager_id)}"


async def _set_password(page: Page, link: str) -> None:
    await page.goto(link)
    await page.get_by_label("New password").fill(PASSWORD)
    await page.get_by_label("Again").fill(PASSWORD)
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_role("status")).to_have_text("Your password is set. Sign in with it.")


@pytest_asyncio.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context()
    page = await context.new_page()
    yield page
    await context.close()


async def test_a_manager_sets_a_password_through_the_link_and_signs_in_to_the_shell(
    server: RunningBridge, page: Page
) -> None:
    problems: list[str] = []  # CSP violations and script errors show up as console errors
    page.on(
        "console", lambda msg: problems.append(f"{msg.text} {msg.location}") if msg.type == "error" else None
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    await _set_password(page, await _link(server))
    await fill_sign_in(page)

    await expect(page).to_have_url(f"{server.url}/")
    await expect(page.locator("#manager-name")).to_have_text(NAME)
    await expect(page.locator("#views")).to_contain_text("Unassigned")
    assert problems == []
    # The page's own module calls the API with the cookie and the CSRF token: a state-changing
    # request gets through authentication and is answered by the route itself.
    error = await page.evaluate(
        """async () => {
            const { api } = await import("/static/api.js");
            try { await api("POST", "/chats", { integration: "nope", text: "hi" }); return "accepted"; }
            catch (e) { return e.message; }
        }"""
    )
    assert error == "no integration named 'nope'"


async def test_a_wrong_password_is_refused_readably_and_repeated_ones_are_rate_limited(
    server: RunningBridge, page: Page
) -> None:
    await _set_password(page, await _link(server))
    for _ in range(5):
        await fill_sign_in(page, password="not my password")
        await expect(page.get_by_role("alert")).to_have_text(
            "That email and password do not match. Check both and try again."
        )
    await fill_sign_in(page)  # the right password, too late
    await expect(page.get_by_role("alert")).to_contain_text("Too many failed attempts. Try again in")
    await page.goto(f"{server.url}/")
    await expect(page).to_have_url(f"{server.url}/sign-in")


@pytest_asyncio.fixture
async def other_site() -> AsyncIterator[TestServer]:
    """Another origin (same host, another port: the same *site*, so the browser does send the
    Lax cookie) whose page posts forms to bridgekit."""
    target: dict[str, str] = {}

    async def evil(request: web.Request) -> web.Response:
        url = target["url"]
        return web.Response(
            content_type="text/html",
            text=f"""<!doctype html><title>Win a prize</title>
            <form method="post" action="{url}/sign-out"><button id="sign-out">Claim</button></form>
            <form method="post" action="{url}/api/v1/chats" enctype="text/plain">
              <input type="hidden" name='{{"integration":"x","text":"spam","x":"' value='"}}'>
              <button id="api">Claim more</button></form>""",
        )

    app = web.Application()
    app.router.add_get("/", evil)
    served = TestServer(app, host="127.0.0.1", port=0)
    await served.start_server()
    served.target = target  # type: ignore[attr-defined]
    yield served
    await served.close()


async def test_another_sites_forms_are_refused_even_though_the_browser_sends_the_cookie(
    server: RunningBridge, page: Page, other_site: TestServer
) -> None:
    other_site.target["url"] = server.url  # type: ignore[attr-defined]
    await _set_password(page, await _link(server))
    await fill_sign_in(page)
    await expect(page.locator("#manager-name")).to_have_text(NAME)

    await page.goto(str(other_site.make_url("/")))
    async with page.expect_response(f"{server.url}/sign-out") as signing_out:
        await page.locator("#sign-out").click()
    assert (await signing_out.value).status == 403
    await expect(page.get_by_role("alert")).to_have_text(
        "This form was sent from another site, so it was not accepted."
    )

    await page.goto(str(other_site.make_url("/")))
    async with page.expect_response(f"{server.url}/api/v1/chats") as posting:
        await page.locator("#api").click()
    answer = await posting.value
    assert answer.status == 403
    assert await answer.json() == {"error": "a cross-site request is refused"}

    await page.goto(f"{server.url}/")  # still signed in: nothing the other site sent counted
    await expect(page.locator("#manager-name")).to_have_text(NAME)


async def test_signing_out_ends_the_session_and_its_cookie_stops_working_on_the_api(
    server: RunningBridge, page: Page
) -> None:
    await _set_password(page, await _link(server))
    await fill_sign_in(page)
    await expect(page.locator("#manager-name")).to_have_text(NAME)
    [cookie] = await page.context.cookies()
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{server.url}/sign-in")
    await page.goto(f"{server.url}/")
    await expect(page).to_have_url(f"{server.url}/sign-in")
    async with (
        aiohttp.ClientSession(headers={"Cookie": f"{cookie['name']}={cookie['value']}"}) as session,
        session.get(f"{server.url}/api/v1/views") as resp,
    ):
        assert resp.status == 401
        assert (await resp.json())["error"] == "the session has ended; sign in again"
