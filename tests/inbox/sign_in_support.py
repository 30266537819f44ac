"""Helpers for the sign-in tests: a manager with an email and a password set through their
one-time link, and a browser-like HTTP client (cookie jar, same-origin ``Origin``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from bridgekit.inbox.managers import create_manager
from bridgekit.inbox.sessions import create_password_link, use_password_link
from bridgekit.testing.harness import RunningBridge

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    manager_id: int
    name: str
    email: str
    token: str  # their API token, for the bearer side


async def person(running: RunningBridge, name: str = "Kim Minji", email: str = "minji@example.com") -> Person:
    """A manager with ``PASSWORD`` set through a one-time link, as ``managers create --email`` starts."""
    manager_id, token = await create_manager(
        running.bridge.db, running.bridge.workspace_id, name, operator=True, email=email
    )
    link = await create_password_link(running.bridge.db, manager_id)
    assert await use_password_link(running.bridge.db, link, PASSWORD) is not None
    return Person(manager_id, name, email, token)


@dataclass
class Answer:
    status: int
    headers: CIMultiDictProxy[str]
    cookies: SimpleCookie
    alert: str  # the page's error message, if it shows one


class Browser:
    """What a browser does over HTTP: keeps cookies, says where its forms come from."""

    def __init__(self, running: RunningBridge) -> None:
        self.url = running.url
        # unsafe: the test server is an IP address, whose cookies aiohttp drops by default
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def post_form(self, path: str, form: dict[str, str], origin: str | None = "self") -> Answer:
        headers = {} if origin is None else {"Origin": self.url if origin == "self" else origin}
        async with self.session.post(
            f"{self.url}{path}", data=form, headers=headers, allow_redirects=False
        ) as resp:
            body = await resp.text()
            found = re.search(r'role="alert"[^>]*>([^<]*)<', body)
            return Answer(resp.status, resp.headers, resp.cookies, found.group(1) if found else "")

    def cookie(self, name: str = "bridgekit_session") -> str:
        return self.session.cookie_jar.filter_cookies(URL(self.url))[name].value

    async def sign_in(self, email: str, password: str = PASSWORD) -> Answer:
        return await self.post_form("/sign-in", {"email": email, "password": password})

    async def get(self, path: str) -> tuple[aiohttp.ClientResponse, str]:
        async with self.session.get(f"{self.url}{path}", allow_redirects=False) as resp:
            return resp, await resp.text()

    async def csrf(self) -> str:
        _, html = await self.get("/")
        found = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
        assert found, html
        return found.group(1)

    async def api(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        async with self.session.request(
            method, f"{self.url}/api/v1{path}", json=json, headers=headers or {}
        ) as resp:
            return resp.status, await resp.json()
