"""What ``bridgekit serve`` prints once it is up: what to do next.

Printed to stdout, never logged. Secrets in webhook addresses (a TalkTalk ``?token=``) are
shown in full only when stdout is a terminal — a person setting the server up needs to copy
them; a service manager's captured output (journald, docker logs) keeps only their start.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import func, select

from bridgekit.engine.bridge import Bridge
from bridgekit.storage import schema as s

_SHOWN_SECRET_CHARS = 4


def mask_secrets(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value cut to its first few characters and ``…``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) > _SHOWN_SECRET_CHARS:
            text = text.replace(secret, secret[:_SHOWN_SECRET_CHARS] + "…")
    return text


async def next_steps(bridge: Bridge, *, program: str, config_path: Path | None, reveal_secrets: bool) -> str:
    """The banner's "next steps": create a manager, where to sign in and the API is, where
    webhooks go.

    ``program`` is how this process was started (``.venv/bin/bridgekit``), so the printed
    command can be pasted as it is."""
    base = bridge.config.base_url
    command = f"{program} managers create 'Your Name' --operator --permission admin --email you@example.com"
    if config_path is not None:
        command += f" -c {shlex.quote(str(config_path))}"
    else:  # the default database is ./bridgekit.db: the same directory finds it
        command = f"cd {shlex.quote(str(Path.cwd()))} && {command}"
    async with bridge.db.read() as conn:
        managers = int((await conn.execute(select(func.count()).select_from(s.managers))).scalar_one())
    lines = [
        "next steps:",
        (
            "  1. create the first manager (prints their API token once and a link to set a password):"
            if managers == 0
            else f"  1. {managers} manager(s) exist; add one (prints the API token once and a password link):"
        ),
        f"       {command}",
        f"  2. sign in: {base}/  inbox API: {base}/api/v1  (bearer token; description: "
        f"{base}/api/v1/openapi.json)",
    ]
    bound = bridge.registry.ordered()
    if not bound:
        lines.append("  3. no integrations configured yet: add [integrations.<name>] to bridgekit.toml")
        return "\n".join(lines)
    lines.append("  3. point each provider at its address:")
    width = max(len(b.integration.name) for b in bound)
    for b in bound:
        integration = b.integration
        address = await bridge.hooks.call_owner(
            "bridgekit_inbound_address", b.channel.plugin, integration=integration, base_url=base
        )
        if not address:
            address = f"POST {base}/hooks/{integration.name}"
        if not reveal_secrets:
            values = [str(v) for v in integration.secrets.values()]
            address = mask_secrets(address, values + [quote(v, safe="") for v in values])
        lines.append(f"       {integration.name:<{width}}  {b.channel.spec.title}: {address}")
    return "\n".join(lines)
