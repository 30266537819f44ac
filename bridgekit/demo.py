"""``bridgekit demo``: a working inbox with no accounts anywhere.

Every installed channel plugin that ships a stand-in for its platform (a sandbox speaking
the platform's wire format, signatures included) offers it through the
``bridgekit_demo_providers`` hook. The demo starts those stand-ins on loopback ports, links
one integration to each, serves bridgekit on a throw-away SQLite file, creates an operator
and prints their browser sign-in (email and a random password) and API token, then has demo
customers write in every few seconds. Replies managers send travel back through the plugin
and the stand-in, exactly as in production, and are printed as the customer receives them.

Send-only channels (Kakao Alimtalk and brand messages: nobody writes in through them) offer a
``SendOnlyDemoProvider`` instead: the demo seeds one customer with a phone number, tells each
such stand-in (which tells bridgekit what the platform would, e.g. that the customer follows
the channel), and prints the chat whose customer panel sends to them.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from secrets import token_urlsafe

from aiohttp import web
from sqlalchemy import select

from bridgekit.config import Config, IntegrationConfig
from bridgekit.demo_provider import DemoCustomer, DemoProvider, DemoStandIn, SendOnlyDemoProvider
from bridgekit.engine.bridge import Bridge, load_plugins
from bridgekit.exceptions import ConfigError
from bridgekit.inbox.customers import new_lead
from bridgekit.inbox.managers import create_manager
from bridgekit.inbox.sessions import create_password_link, use_password_link
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s

DEMO_EMAIL = "demo@example.com"  # the demo operator's browser sign-in
# The customer seeded for send-only channels: a Korean mobile number, as Kakao needs.
PHONE_CUSTOMER = ("이서연", "010-2345-6789")

# (customer, what they write), in turn; the channel rotates independently.
SCRIPT: tuple[tuple[str, str], ...] = (
    ("김민지", "안녕하세요, 지난주에 주문한 상품이 아직 도착하지 않았어요. 확인 부탁드려요."),
    ("山田太郎", "注文した商品のサイズを交換できますか。"),
    ("Ann Lee", "Hi! Can I still change the delivery address of order #1042?"),
    ("박서준", "쿠폰 코드가 적용이 안 돼요."),
    ("佐藤花子", "領収書を発行していただけますか。"),
    ("Tom Baker", "Do you ship to Canada?"),
)


@dataclass
class _Linked:
    provider: DemoStandIn
    integration: str
    hook_url: str = ""
    replies_seen: int = 0


class Demo:
    """A running demo: ``start()``, then ``tick()`` for each customer message, ``stop()``."""

    def __init__(self, config: Config, *, say: Callable[[str], None] = print) -> None:
        self.config = config
        self.say = say
        self.token = ""
        self.password = ""
        self.url = config.base_url
        self.linked: list[_Linked] = []
        self._runner: web.AppRunner | None = None
        #: The seeded phone customer's chat (its panel sends Alimtalks...), when one was made.
        self.phone_chat_url: str | None = None
        self.bridge: Bridge | None = None
        self._script = itertools.cycle(SCRIPT)
        self._turn = itertools.count()

    async def start(self) -> None:
        from bridgekit.web.app import create_app

        plugins = load_plugins(self.config)
        offered: list[DemoStandIn] = []
        for result in await plugins.hooks.call_all("bridgekit_demo_providers"):
            offered.extend(result)
        integrations: list[IntegrationConfig] = []
        for provider in offered:
            if provider.channel not in plugins.channels:
                continue  # a stand-in for a channel no loaded plugin declares
            settings, secrets = await provider.start()
            name = f"demo-{provider.channel}"
            integrations.append(IntegrationConfig(name, provider.channel, dict(settings), dict(secrets)))
            self.linked.append(_Linked(provider, name))
        # The fixed inbox order (P3), whatever order the plugins were loaded in.
        self.linked.sort(key=lambda link: plugins.channels[link.provider.channel].spec.inbox_slot)
        if not self.chatting:
            raise ConfigError("no installed channel plugin offers a demo stand-in (bridgekit_demo_providers)")
        self.config = replace(self.config, integrations=(*self.config.integrations, *integrations))
        bridge = self.bridge = Bridge(self.config, plugins)
        self._runner = web.AppRunner(await create_app(bridge), access_log=None)
        await self._runner.setup()  # starts the bridge: migrations, integrations, workers
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = self.config.public_url or f"http://{host}:{port}"
        # The stand-in providers download reply media from here, like the real ones would.
        bridge.config = replace(bridge.config, public_url=self.url)
        for link in self.linked:
            link.hook_url = f"{self.url}/hooks/{link.integration}"
        manager_id, self.token = await create_manager(
            bridge.db,
            bridge.workspace_id,
            "Demo Operator",
            operator=True,
            permissions=("admin", "delete_chats"),  # the admin pages too
            email=DEMO_EMAIL,
        )
        # The browser sign-in: a fresh random password each run, set the one way passwords are set.
        self.password = token_urlsafe(12)
        await use_password_link(bridge.db, await create_password_link(bridge.db, manager_id), self.password)
        await self._seed_phone_customer(bridge)

    @property
    def chatting(self) -> list[_Linked]:
        """The stand-ins customers write in through (the send-only ones take no turns)."""
        return [link for link in self.linked if isinstance(link.provider, DemoProvider)]

    async def _seed_phone_customer(self, bridge: Bridge) -> None:
        """A customer with a phone number for the send-only stand-ins, each told of them."""
        send_only = [link for link in self.linked if isinstance(link.provider, SendOnlyDemoProvider)]
        if not send_only:
            return
        name, phone = PHONE_CUSTOMER
        async with bridge.db.write() as conn:
            customer_id, _contact = await new_lead(
                conn, bridge.workspace_id, name, ("phone", 0, phone), True, utcnow()
            )
        customer = DemoCustomer(customer_id, name, phone, f"{self.url}/api/v1", self.token)
        for link in send_only:
            assert isinstance(link.provider, SendOnlyDemoProvider)
            await link.provider.customer_added(link.integration, customer)
        async with bridge.db.read() as conn:
            chat_id = (
                await conn.execute(
                    select(s.chats.c.id)
                    .where(s.chats.c.customer_id == customer_id)
                    .order_by(s.chats.c.id.desc())
                )
            ).scalar()
        if chat_id is not None:
            self.phone_chat_url = f"{self.url}/chats/{chat_id}"

    async def tick(self) -> int:
        """One demo customer writes in (channels take turns); returns bridgekit's status."""
        link = self.chatting[next(self._turn) % len(self.chatting)]
        assert isinstance(link.provider, DemoProvider)
        customer, text = next(self._script)
        status = await link.provider.customer_says(link.hook_url, customer, text)
        self.say(f"  {link.provider.channel:<10} {customer}: {text}  -> {status}")
        return status

    def new_replies(self) -> list[tuple[str, str, str]]:
        """(channel, customer, text) sent to customers since the last call."""
        fresh: list[tuple[str, str, str]] = []
        for link in self.linked:
            replies = link.provider.replies()
            fresh.extend((link.provider.channel, c, t) for c, t in replies[link.replies_seen :])
            link.replies_seen = len(replies)
        return fresh

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for link in self.linked:
            await link.provider.stop()


def demo_config(base: Config, directory: Path, host: str, port: int) -> Config:
    """The demo's own database and files under ``directory``, never the user's."""
    return replace(
        base,
        database_url=f"sqlite+aiosqlite:///{directory / 'bridgekit-demo.db'}",
        data_dir=directory / "data",
        host=host,
        port=port,
        public_url=None,
        integrations=(),
    )


async def run_demo(config: Config, *, interval: float, messages: int | None = None) -> None:
    """Serve the demo until interrupted (or until ``messages`` customer messages were sent)."""
    demo = Demo(config)
    await demo.start()
    try:
        channels = ", ".join(link.provider.channel for link in demo.linked)
        print(
            f"bridgekit demo: {demo.url}  (channels: {channels}; database {config.database_url})\n"
            f"  open the inbox: {demo.url}/sign-in  email {DEMO_EMAIL}  password {demo.password}\n"
            f"  operator API token: {demo.token}\n"
            f"  try: curl -H 'Authorization: Bearer {demo.token}' {demo.url}/api/v1/chats\n"
            f"  reply: curl -H 'Authorization: Bearer {demo.token}' -H 'Content-Type: application/json'"
            f' -d \'{{"text": "Hello!"}}\' {demo.url}/api/v1/chats/<id>/messages\n'
            f"  the API is described at {demo.url}/api/v1/openapi.json; Ctrl-C stops the demo",
            flush=True,
        )
        if demo.phone_chat_url is not None:
            name, phone = PHONE_CUSTOMER
            print(
                f"  send-only channels: {name} ({phone}); send from their panel at {demo.phone_chat_url}",
                flush=True,
            )
        sent = 0
        while messages is None or sent < messages:
            await demo.tick()
            sent += 1
            await _wait_for_replies(demo, interval)
        await _wait_for_replies(demo, 0.5)  # a last look for replies in flight
    finally:
        await demo.stop()


async def _wait_for_replies(demo: Demo, seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        for channel, customer, text in demo.new_replies():
            print(f"  {channel:<10} -> {customer} received: {text}", flush=True)
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return
        await asyncio.sleep(min(0.2, left))
