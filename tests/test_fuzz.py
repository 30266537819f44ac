"""Hostile and careless input at every door, property-based (hypothesis).

One bridge with every installed channel plugin, each linked to its sandbox (the same wiring
as ``bridgekit demo``), on SQLite and on PostgreSQL. Hypothesis throws at it:

- signed webhooks whose JSON is a real provider event with random parts replaced by random
  JSON (so the plugin's parser, not only its signature check, sees the damage), and unsigned
  random bodies and query strings at every ``/hooks/...`` route;
- random MIME over SMTP to the email plugin's listener (broken encodings, charsets, From
  lines, nesting, the null sender);
- random JSON bodies and query strings at every route under ``/api/`` with an operator's
  token, path parameters included.

Every answer must be below 500 (SMTP: never a temporary 4xx, which makes a sender retry
forever), the server must keep answering, and a real customer message sent between the
random ones must always reach the inbox: nothing acknowledged is lost.

Runs are deterministic (``derandomize``) so a failure reproduces. Hypothesis drives from a
worker thread because its test functions are synchronous; each request runs on the test's
event loop, where the bridge serves.
"""

from __future__ import annotations

import asyncio
import json
import string
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import aiosmtplib
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bridgekit.config import Config
from bridgekit.demo import Demo, demo_config
from bridgekit.demo_provider import DemoProvider

T = TypeVar("T")
EXAMPLES = 60
REQUEST_TIMEOUT = 20

DEEP = "deeply nested"  # stands for 5,000 nested arrays, spliced in after encoding

# Text that breaks storage or decoding: NUL (PostgreSQL refuses it), lone surrogates, astral
# characters, right-to-left marks, Hangul and kana, markup.
NASTY_TEXT = st.sampled_from(
    [
        "\x00",
        "a\x00b",
        "\ud800",
        "x\udfffy",
        "\U0001d518\U0001d52b",
        "\u202e",
        "한국어",
        "カタカナ",
        "<svg onload=x>",
        "",
        " " * 3,
    ]
)
TEXT = st.one_of(st.text(max_size=12), NASTY_TEXT)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON = st.recursive(
    SCALARS | st.just(DEEP),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
QUERY = st.dictionaries(st.text(string.ascii_letters + "._[]", min_size=1, max_size=12), TEXT, max_size=4)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document that can be replaced: dict keys and list indexes."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutated(data: st.DataObject, document: Any) -> Any:
    """``document`` with one to three places replaced by random JSON or removed."""
    document = json.loads(json.dumps(document))
    places = [p for p in paths(document) if p]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        place = data.draw(st.sampled_from(places))
        parent = document
        try:
            for step in place[:-1]:
                parent = parent[step]
            if data.draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(place[-1], None)
            else:
                parent[place[-1]] = data.draw(JSON)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this place
    return document


def encode(document: Any) -> bytes:
    # ensure_ascii: lone surrogates survive as \udxxx escapes, as a sloppy sender writes them.
    body = json.dumps(document, ensure_ascii=True).encode()
    return body.replace(json.dumps(DEEP).encode(), b"[" * 5000 + b"]" * 5000)


class Door:
    """Runs coroutines on the bridge's event loop from hypothesis' worker thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return asyncio.run_coroutine_threadsafe(make(), self.loop).result(timeout=REQUEST_TIMEOUT * 2)


def hypothesis_settings(examples: int = EXAMPLES) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,  # a real server on a real database; REQUEST_TIMEOUT bounds each call
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )


@pytest_asyncio.fixture
async def demo(db_url: str, tmp_path: Path) -> AsyncIterator[Demo]:
    config = replace(demo_config(Config(), tmp_path, "127.0.0.1", 0), database_url=db_url)
    running = Demo(config, say=lambda line: None)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def speaking(demo: Demo) -> list[Any]:
    """The demo's stand-ins with a customer who writes in (not the send-only ones)."""
    return [link for link in demo.linked if isinstance(link.provider, DemoProvider)]


def provider(demo: Demo, channel: str) -> Any:
    for link in demo.linked:
        if link.provider.channel == channel:
            return link
    pytest.skip(f"no {channel} plugin installed")


async def post(url: str, body: bytes, headers: dict[str, str] | None = None, **kwargs: Any) -> int:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, data=body, headers=headers, **kwargs) as resp,
    ):
        await resp.read()
        return resp.status


class Witness:
    """Real customer messages sent between the random ones; each must reach the inbox."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.sent: list[str] = []

    async def speak(self, channel: str) -> None:
        link = provider(self.demo, channel)
        marker = f"witness {channel} {len(self.sent)}"
        status = await link.provider.customer_says(link.hook_url, f"Witness {channel}", marker)
        assert status == 200, f"{channel} refused a valid message after fuzzing: {status}"
        self.sent.append(marker)

    async def all_arrived(self) -> None:
        headers = {"Authorization": f"Bearer {self.demo.token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            for marker in self.sent:
                async with session.get(
                    f"{self.demo.url}/api/v1/chats", params={"q": marker, "state": "open"}
                ) as resp:
                    assert resp.status == 200, await resp.text()
                    found = (await resp.json())["chats"]
                assert found, f"acknowledged message {marker!r} is not in the inbox"


def signed_line(link: Any, document: Any) -> tuple[bytes, dict[str, str]]:
    body = encode(document)
    webhooks = link.provider.sandbox.webhooks
    return body, {"Content-Type": "application/json", "X-Line-Signature": webhooks.signature(body)}


async def test_signed_provider_webhooks_with_random_parts(demo: Demo) -> None:
    """Valid signatures over damaged events: 2xx or a clear 4xx, never a 5xx."""
    door = Door(asyncio.get_running_loop())
    witness = Witness(demo)
    line = provider(demo, "line")
    instagram = provider(demo, "instagram")
    naver = provider(demo, "naver")
    line_webhooks = line.provider.sandbox.webhooks
    meta = instagram.provider.meta
    talk = naver.provider.sandbox
    meta.add_profile("IGSID-fuzz", name="Fuzz", username="fuzz.demo")
    failures: list[str] = []

    @hypothesis_settings()
    @given(data=st.data())
    def line_events(data: st.DataObject) -> None:
        document = {
            "destination": line_webhooks.bot_user_id,
            "events": [line_webhooks.text("Ufuzz", "hello")],
        }
        body, headers = signed_line(line, mutated(data, document))
        status = door.run(lambda: post(line.hook_url, body, headers))
        if status >= 500:
            failures.append(f"LINE {status}: {body[:300]!r}")

    @hypothesis_settings()
    @given(data=st.data())
    def instagram_events(data: st.DataObject) -> None:
        document = meta.envelope(meta.text_event("IGSID-fuzz", "hello"))
        body = encode(mutated(data, document))
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": meta.sign(body)}
        status = door.run(lambda: post(instagram.hook_url, body, headers))
        if status >= 500:
            failures.append(f"Instagram {status}: {body[:300]!r}")

    @hypothesis_settings()
    @given(data=st.data())
    def naver_events(data: st.DataObject) -> None:
        body = encode(mutated(data, talk.text_event("fuzz-user", "hello")))
        status = door.run(lambda: talk.post_webhook(body, callback_url=naver.hook_url)).status
        if status >= 500:
            failures.append(f"Naver {status}: {body[:300]!r}")

    for channel, run in (("line", line_events), ("instagram", instagram_events), ("naver", naver_events)):
        await witness.speak(channel)
        await asyncio.to_thread(run)
        await witness.speak(channel)
    assert not failures, "\n".join(failures[:10])
    await witness.all_arrived()


async def test_unsigned_bodies_and_query_strings_at_every_hook(demo: Demo) -> None:
    """Anyone can reach ``/hooks/...``: random bytes, JSON and query strings, GET and POST,
    to every integration and to names that do not exist."""
    door = Door(asyncio.get_running_loop())
    witness = Witness(demo)
    names = [link.integration for link in demo.linked] + ["nope", "..", "%00"]
    failures: list[str] = []

    @hypothesis_settings()
    @given(
        name=st.sampled_from(names),
        method=st.sampled_from(["GET", "POST"]),
        query=QUERY,
        body=st.one_of(st.binary(max_size=300), JSON.map(encode)),
        content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]),
    )
    def hooks(name: str, method: str, query: dict[str, str], body: bytes, content_type: str) -> None:
        async def send() -> int:
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(
                    method,
                    f"{demo.url}/hooks/{name}",
                    params=query,
                    data=body if method == "POST" else None,
                    headers={"Content-Type": content_type},
                ) as resp,
            ):
                await resp.read()
                return resp.status

        status = door.run(send)
        if status >= 500:
            failures.append(f"{method} /hooks/{name}?{query} {status}: {body[:300]!r}")

    await asyncio.to_thread(hooks)
    assert not failures, "\n".join(failures[:10])
    for link in speaking(demo):
        await witness.speak(link.provider.channel)
    await witness.all_arrived()


def header_text() -> st.SearchStrategy[str]:
    encoded_words = st.sampled_from(
        [
            "=?utf-8?B?7ZWc6rWt7Ja0?=",
            "=?euc-kr?B?x9GxueyW?=",
            "=?bogus?Q?x?=",
            "=?utf-8?B?@@@?=",
            "=?utf-8?Q?a=00b?=",
        ]
    )
    return st.one_of(TEXT.filter(lambda s: "\n" not in s and "\r" not in s), encoded_words)


@st.composite
def mails(draw: st.DrawFn) -> tuple[str, bytes]:
    """(envelope sender, raw message): mostly well-formed envelopes around damaged content."""
    sender = draw(st.sampled_from(["", "someone@mail.example", "broken", "x@y"]))
    lines = [
        f"From: {draw(st.sampled_from(['someone@mail.example', 'broken', 'Kim <kim@m.example>', '<>', '']))}",
        "To: support@demo.example",
        f"Subject: {draw(header_text())}",
        f"Message-ID: <{draw(st.integers(0, 10**9))}@fuzz>",
    ]
    if draw(st.booleans()):
        lines.append("Auto-Submitted: auto-generated")
    charset = draw(st.sampled_from(["utf-8", "euc-kr", "iso-2022-jp", "bogus-8", "utf-16"]))
    encoding = draw(st.sampled_from(["base64", "quoted-printable", "7bit", "8bit", "x-uuencode"]))
    payload = draw(st.one_of(st.binary(max_size=200), TEXT.map(lambda s: s.encode("utf-8", "surrogatepass"))))
    part = [
        f"Content-Type: text/{draw(st.sampled_from(['plain', 'html']))}; charset={charset}",
        f"Content-Transfer-Encoding: {encoding}",
    ]
    if draw(st.booleans()):
        boundary = "fuzz-boundary"
        lines += ["MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"', ""]
        head = "\r\n".join(lines).encode("utf-8", "surrogatepass")
        attachment = (
            f'--{boundary}\r\nContent-Type: application/octet-stream; name="{draw(header_text())}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode("utf-8", "surrogatepass") + draw(st.binary(max_size=80))
        body = (
            f"--{boundary}\r\n".encode()
            + "\r\n".join(part).encode()
            + b"\r\n\r\n"
            + payload
            + b"\r\n"
            + attachment
            + (f"\r\n--{boundary}--\r\n".encode() if draw(st.booleans()) else b"")
        )
        return sender, head + b"\r\n" + body
    return sender, "\r\n".join(lines + part).encode("utf-8", "surrogatepass") + b"\r\n\r\n" + payload


async def test_random_mime_over_smtp(demo: Demo) -> None:
    """Mail is accepted (250) or refused for good (5xx): a temporary 4xx makes the sending
    server retry the same broken mail forever and the customer never reaches a manager."""
    door = Door(asyncio.get_running_loop())
    witness = Witness(demo)
    email = provider(demo, "email")
    port = email.provider.smtp_port
    failures: list[str] = []

    @hypothesis_settings()
    @given(mail=mails())
    def smtp(mail: tuple[str, bytes]) -> None:
        sender, raw = mail

        async def send() -> int:
            client = aiosmtplib.SMTP(
                hostname="127.0.0.1", port=port, start_tls=False, timeout=REQUEST_TIMEOUT
            )
            try:
                async with client:
                    await client.sendmail(sender, ["support@demo.example"], raw)
            except aiosmtplib.SMTPResponseException as exc:
                return exc.code
            except aiosmtplib.SMTPRecipientsRefused as exc:
                return exc.recipients[0].code
            return 250

        code = door.run(send)
        if 400 <= code < 500:
            failures.append(f"SMTP {code}: {raw[:300]!r}")

    await witness.speak("email")
    await asyncio.to_thread(smtp)
    await witness.speak("email")
    assert not failures, "\n".join(failures[:10])
    await witness.all_arrived()


# Routes whose answer never ends (read the status only) and actions that would lock the
# fuzzing operator out of the rest of the run.
STREAMS = {"/api/v1/events"}
SELF_LOCKOUT = ("rotate", "/managers/{", "/me")


async def test_random_json_and_query_strings_at_every_api_route(demo: Demo) -> None:
    """Every route under ``/api/``, with an operator's token, path parameters from small ids
    to garbage, random query strings, and random JSON (or non-JSON) bodies."""
    door = Door(asyncio.get_running_loop())
    witness = Witness(demo)
    for link in speaking(demo):  # a chat per channel, so small ids name real chats and messages
        await witness.speak(link.provider.channel)
    await witness.all_arrived()
    app = demo._runner.app if demo._runner else None
    assert app is not None
    routes = sorted(
        {
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.resource is not None
            and route.resource.canonical.startswith("/api/")
            and route.method in {"GET", "POST", "PUT", "PATCH", "DELETE"}
            and not any(part in route.resource.canonical for part in SELF_LOCKOUT)
        },
        key=lambda r: (r[0] == "DELETE", r[1], r[0]),  # deletions last
    )
    assert len(routes) > 20, routes
    failures: list[str] = []
    path_values = st.one_of(st.integers(0, 6).map(str), st.sampled_from(["-1", "x", "1e3", "9" * 30, "%00"]))

    @hypothesis_settings(EXAMPLES * 10)
    @given(
        route=st.sampled_from(routes),
        data=st.data(),
        query=QUERY,
        body=st.one_of(JSON.map(encode), st.binary(max_size=60), st.just(b"[" * 5000 + b"]" * 5000)),
    )
    def api(route: tuple[str, str], data: st.DataObject, query: dict[str, str], body: bytes) -> None:
        method, template = route
        path = template
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + data.draw(path_values) + path[end + 1 :]

        async def send() -> int:
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
            headers = {"Authorization": f"Bearer {demo.token}", "Content-Type": "application/json"}
            async with (
                aiohttp.ClientSession(timeout=timeout, headers=headers) as session,
                session.request(
                    method, f"{demo.url}{path}", params=query, data=body if method != "GET" else None
                ) as resp,
            ):
                if template not in STREAMS:
                    await resp.read()
                return resp.status

        status = door.run(send)
        if status >= 500:
            failures.append(f"{method} {path}?{query} {status}: {body[:200]!r}")

    await asyncio.to_thread(api)
    assert not failures, f"{len(failures)} requests answered 5xx:\n" + "\n".join(failures[:15])
    for link in speaking(demo):  # still serving customers afterwards
        await witness.speak(link.provider.channel)
