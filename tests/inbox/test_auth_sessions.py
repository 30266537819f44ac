"""Signing in with an email and a password (issue 14's foundation): the session cookie works
on the pages and the API, state-changing requests need the CSRF token and our own origin,
bearer tokens work as before, sessions end (sign-out, idle, absolute), and every page
carries the security headers."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from bridgekit.config import Config
from bridgekit.inbox.managers import create_manager
from bridgekit.inbox.sessions import SESSION_IDLE, create_password_link
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.testing.harness import TEST_OUTBOX
from bridgekit.web.sessions_http import CONTENT_SECURITY_POLICY
from tests.conftest import integration, signed
from tests.inbox.sign_in_support import PASSWORD, Browser, person
from tests.support.testchannel import TestChannelPlugin

# Past authentication, a bad body: the request got through to the route.
NO_SUCH_INTEGRATION = {"integration": "nope", "text": "hi"}


async def test_the_link_sets_a_password_once_and_it_signs_in_to_the_shell(make_bridge) -> None:
    running = await make_bridge(plugins={})

    manager_id, _ = await create_manager(
        running.bridge.db, running.bridge.workspace_id, "Kim <Minji>", email="Minji@Example.com"
    )
    link = await create_password_link(running.bridge.db, manager_id)
    async with Browser(running) as browser:
        form, html = await browser.get(f"/set-password/{link}")
        assert form.status == 200
        assert "Kim &lt;Minji&gt;" in html  # escaped
        short = await browser.post_form(f"/set-password/{link}", {"password": "short", "confirm": "short"})
        assert short.status == 400
        done = await browser.post_form(f"/set-password/{link}", {"password": PASSWORD, "confirm": PASSWORD})
        assert (done.status, done.headers["Location"]) == (303, "/sign-in?password=set")
        again, html = await browser.get(f"/set-password/{link}")
        assert again.status == 404
        assert "expired or was already used" in html

        before, _ = await browser.get("/")
        assert (before.status, before.headers["Location"]) == (303, "/sign-in")
        signed = await browser.sign_in("  minji@EXAMPLE.com ")
        assert (signed.status, signed.headers["Location"]) == (303, "/")
        cookie = signed.cookies["bridgekit_session"]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
        shell, html = await browser.get("/")
        assert shell.status == 200
        assert 'id="manager-name">Kim &lt;Minji&gt;<' in html
        assert "All open" in html
        assert "Sign out" in html


async def test_every_page_and_asset_carries_the_strict_headers(make_bridge) -> None:
    running = await make_bridge(plugins={})
    async with Browser(running) as browser:
        for path in ("/sign-in", "/static/app.css", "/static/shell.js", "/set-password/nothing"):
            resp, body = await browser.get(path)
            assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["Referrer-Policy"] == "same-origin"
            assert "<script>" not in body  # nothing inline
            assert "style=" not in body
        js, _ = await browser.get("/static/shell.js")
        assert js.content_type == "text/javascript"
        missing, _ = await browser.get("/static/..%2Fpages.py")
        assert missing.status == 404


async def test_wrong_passwords_and_unknown_emails_get_one_answer_then_a_rate_limit(make_bridge) -> None:
    running = await make_bridge(plugins={})
    minji = await person(running)
    async with Browser(running) as browser:
        unknown = await browser.sign_in("nobody@example.com")
        wrong = await browser.sign_in(minji.email, "not the password")
        assert unknown.status == wrong.status == 401
        assert unknown.alert == wrong.alert  # nothing tells which addresses exist
        assert "That email and password do not match" in wrong.alert
        for _ in range(4):
            assert (await browser.sign_in(minji.email, "still wrong")).status == 401
        # five failures for this account: even the right password waits now
        limited = await browser.sign_in(minji.email)
        assert limited.status == 429
        assert int(limited.headers["Retry-After"]) > 0
        assert "bridgekit_session" not in limited.cookies
        assert "Too many failed attempts" in limited.alert
        # another account from the same address is not locked out by it
        await person(running, "Sato Yui", "yui@example.com")
        assert (await browser.sign_in("yui@example.com")).status == 303


async def test_the_api_takes_the_cookie_with_csrf_and_same_origin_for_changes(make_bridge) -> None:
    running = await make_bridge(plugins={})
    minji = await person(running)
    async with Browser(running) as browser:
        assert (await browser.api("GET", "/views"))[0] == 401
        await browser.sign_in(minji.email)
        status, views = await browser.api("GET", "/views")
        assert status == 200
        assert "unassigned" in views
        csrf = await browser.csrf()

        status, body = await browser.api(
            "POST", "/chats", json=NO_SUCH_INTEGRATION, headers={"Origin": browser.url}
        )
        assert (status, body["error"]) == (403, "the X-CSRF-Token header is missing or wrong")
        status, _ = await browser.api(
            "POST",
            "/chats",
            json=NO_SUCH_INTEGRATION,
            headers={"Origin": browser.url, "X-CSRF-Token": "x" * 64},
        )
        assert status == 403
        for cross_site in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "same-site"}, {}):
            status, body = await browser.api(
                "POST", "/chats", json=NO_SUCH_INTEGRATION, headers={**cross_site, "X-CSRF-Token": csrf}
            )
            assert (status, body["error"]) == (403, "a cross-site request is refused"), cross_site
        status, body = await browser.api(
            "POST",
            "/chats",
            json=NO_SUCH_INTEGRATION,
            headers={"Sec-Fetch-Site": "same-origin", "X-CSRF-Token": csrf},
        )
        assert status == 400, body  # through authentication, refused by the route itself

    # Bearer tokens: no cookie, no CSRF, no Origin, as before.
    status, _ = await browser_less_post(running, minji.token)
    assert status == 400


async def browser_less_post(running, token: str) -> tuple[int, object]:
    import aiohttp

    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.post(f"{running.url}/api/v1/chats", json=NO_SUCH_INTEGRATION) as resp,
    ):
        return resp.status, await resp.json()


async def test_signing_out_ends_the_session_for_the_pages_and_the_api(make_bridge) -> None:
    running = await make_bridge(plugins={})
    minji = await person(running)
    async with Browser(running) as browser:
        await browser.sign_in(minji.email)
        csrf = await browser.csrf()
        stolen = browser.cookie()

        refused = await browser.post_form("/sign-out", {})  # no CSRF token: a forged sign-out
        assert refused.status == 403
        assert (await browser.api("GET", "/views"))[0] == 200

        out = await browser.post_form("/sign-out", {"csrf_token": csrf})
        assert (out.status, out.headers["Location"]) == (303, "/sign-in")
        assert (await browser.api("GET", "/views"))[0] == 401
    async with Browser(running) as replay:  # the old cookie, kept by someone, is dead too
        replay.session.cookie_jar.update_cookies({"bridgekit_session": stolen})
        status, body = await replay.api("GET", "/views")
        assert (status, body["error"]) == (401, "the session has ended; sign in again")


async def test_sessions_end_when_idle_and_at_their_absolute_end(make_bridge) -> None:
    running = await make_bridge(plugins={})
    minji = await person(running)
    sessions = s.sessions.c
    async with Browser(running) as idle, Browser(running) as old:
        await idle.sign_in(minji.email)
        await old.sign_in(minji.email)
        assert (await idle.api("GET", "/views"))[0] == (await old.api("GET", "/views"))[0] == 200
        idle_hash, old_hash = await _session_hashes(running)
        async with running.bridge.db.write() as conn:
            await conn.execute(
                update(s.sessions)
                .where(sessions.token_hash == idle_hash)
                .values(last_seen_at=utcnow() - SESSION_IDLE - timedelta(minutes=1))
            )
            await conn.execute(
                update(s.sessions)
                .where(sessions.token_hash == old_hash)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        for browser in (idle, old):
            assert (await browser.api("GET", "/views"))[0] == 401
            resp, _ = await browser.get("/")
            assert resp.headers["Location"] == "/sign-in"


async def _session_hashes(running) -> list[str]:
    from sqlalchemy import select

    async with running.bridge.db.read() as conn:
        rows = (await conn.execute(select(s.sessions.c.token_hash).order_by(s.sessions.c.created_at))).all()
    return [row.token_hash for row in rows]


async def test_over_https_the_cookie_is_secure_and_host_only(make_bridge) -> None:
    config = Config(outbox=TEST_OUTBOX, public_url="https://inbox.example.com")
    running = await make_bridge(plugins={}, config=config)
    minji = await person(running)
    async with Browser(running) as browser:
        signed = await browser.sign_in(minji.email)
        assert signed.status == 303
        cookie = signed.cookies["__Host-bridgekit_session"]
        assert cookie["secure"] is True
        assert cookie["httponly"] is True
        assert not cookie["domain"]


async def test_bad_form_input_is_a_clear_4xx_never_a_5xx(make_bridge) -> None:
    running = await make_bridge(plugins={})
    minji = await person(running)
    bodies = [
        b"",
        b"email=%00&password=x",
        b"email=" + b"a" * 3000 + b"&password=x",
        b"email=\xff\xfe&password=\xff",
        b"%%%&&&==",
        b'{"email": "minji@example.com"}',
        b"password=" + b"p" * 2000,
    ]
    async with Browser(running) as browser:
        for path in ("/sign-in", "/set-password/%00", "/set-password/x", "/sign-out"):
            for body in bodies:
                async with browser.session.post(
                    f"{browser.url}{path}", data=body, headers={"Origin": browser.url}, allow_redirects=False
                ) as resp:
                    assert resp.status < 500, (path, body[:40], resp.status)
        async with browser.session.post(
            f"{browser.url}/sign-in", data=b"x" * 100_000, headers={"Origin": browser.url}
        ) as resp:
            assert resp.status == 413
        assert (await browser.sign_in(minji.email)).status == 303  # still works


def test_every_template_and_static_file_is_package_data() -> None:
    """The pages must work from a wheel install, with no network: every file under
    ``bridgekit/web/ui`` matches a ``package-data`` pattern of pyproject.toml."""
    import fnmatch
    import tomllib
    from pathlib import Path

    import bridgekit

    package = Path(bridgekit.__file__).parent
    root = package.parent
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "bridgekit"
    ]
    files = [p.relative_to(package).as_posix() for p in (package / "web" / "ui").rglob("*") if p.is_file()]
    assert len(files) >= 5
    unshipped = [f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)]
    assert unshipped == []


async def test_the_shell_shows_the_sidebar_views_with_their_counts(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    running = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    body, headers = signed({"id": "ev-1", "user": "u-1", "name": "<b>Kim</b>", "text": "hello"})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    minji = await person(running)
    async with Browser(running) as browser:
        await browser.sign_in(minji.email)
        _, html = await browser.get("/")
    views = dict(re.findall(r'<li data-view="([^"]+)"[^>]*>.*?<span class="count">(\d+)<', html))
    assert views["all"] == "1"
    assert views["unassigned"] == "1"
    assert views["mine"] == "0"
    assert views["integration:acme"] == "1"


async def test_signing_in_returns_to_the_chat_of_a_manager_link_and_never_to_another_site(
    make_bridge,
) -> None:
    running = await make_bridge(plugins={})
    minji = await person(running)
    async with Browser(running) as browser:
        page, _ = await browser.get("/chats/7")
        assert (page.status, page.headers["Location"]) == (303, "/sign-in?next=/chats/7")
        _, html = await browser.get("/sign-in?next=/chats/7")
        assert '<input type="hidden" name="next" value="/chats/7">' in html
        _, html = await browser.get("/sign-in?next=https://evil.example/")
        assert 'name="next"' not in html
        for elsewhere in (
            "https://evil.example/",
            "//evil.example/chats/7",
            "/chats/7/../../x",
            "/api/v1/views",
        ):
            answer = await browser.post_form(
                "/sign-in", {"email": minji.email, "password": PASSWORD, "next": elsewhere}
            )
            assert (answer.status, answer.headers["Location"]) == (303, "/")
        answer = await browser.post_form(
            "/sign-in", {"email": minji.email, "password": PASSWORD, "next": "/chats/7"}
        )
        assert (answer.status, answer.headers["Location"]) == (303, "/chats/7")
        page, html = await browser.get("/chats/7")
        assert page.status == 200
    async with Browser(running) as browser:  # an admin page leads back to itself too
        page, _ = await browser.get("/admin/teams")
        assert (page.status, page.headers["Location"]) == (303, "/sign-in?next=/admin/teams")
        answer = await browser.post_form(
            "/sign-in", {"email": minji.email, "password": PASSWORD, "next": "/admin/teams"}
        )
        assert (answer.status, answer.headers["Location"]) == (303, "/admin/teams")
        assert 'data-chat-id="7"' in html
