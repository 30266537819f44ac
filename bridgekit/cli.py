"""``bridgekit serve | migrate | plugins | demo | managers | secrets | new-plugin``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from bridgekit import __version__
from bridgekit.banner import next_steps
from bridgekit.config import Config, load_config, worker_slot
from bridgekit.engine.bridge import Bridge, installed_workspace, load_plugins
from bridgekit.exceptions import BridgekitError, ConfigError
from bridgekit.inbox.managers import PERMISSIONS
from bridgekit.logs import LOG_FORMATS, setup_logging
from bridgekit.runtime.clock import iso
from bridgekit.storage.db import Database

log = logging.getLogger("bridgekit")


def _config(args: argparse.Namespace) -> Config:
    path = args.config or (
        Path(os.environ["BRIDGEKIT_CONFIG"]) if os.environ.get("BRIDGEKIT_CONFIG") else None
    )
    if path is None and Path("bridgekit.toml").exists():
        path = Path("bridgekit.toml")
    return load_config(path)


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (a dependency except on Windows), else asyncio's own.

    aiohttp's protocol code runs on either; uvloop's C transports measured ~4% more
    webhooks/s (bench/line_ingest.py)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def cmd_serve(args: argparse.Namespace) -> int:
    from bridgekit.web.app import create_app
    from bridgekit.web.server import run

    config = _config(args)
    if args.port is not None or args.host is not None:
        from dataclasses import replace

        port = config.port if args.port is None else args.port
        config = replace(config, port=port, host=args.host or config.host)
    if args.workers != 1:
        return _supervise(args, config)
    slot = worker_slot()
    plugins = load_plugins(config)
    bridge = Bridge(config, plugins)
    where = "defaults (no configuration file)" if config.source is None else str(config.source)
    print(
        f"bridgekit {__version__}: configuration {where}\n"
        f"  database  {config.database_url}\n"
        f"  data dir  {config.data_dir}\n"
        f"  channels  {', '.join(plugins.channels) or 'none'}",
        flush=True,
    )
    program = _program()
    reveal = sys.stdout.isatty()

    steps: list[str] = []

    async def app_with_steps() -> web.Application:
        app = await create_app(bridge)

        async def read_steps(_app: web.Application) -> None:  # after the bridge has started
            text = await next_steps(bridge, program=program, config_path=config.source, reveal_secrets=reveal)
            steps.append(text)

        app.on_startup.append(read_steps)
        if slot is not None:  # which of the workers answered: for load balancers and tests
            worker = str(slot[0])

            async def name_worker(_request: web.Request, response: web.StreamResponse) -> None:
                response.headers["X-Bridgekit-Worker"] = worker

            app.on_response_prepare.append(name_worker)
        return app

    async def announce(host: str, port: int) -> None:
        # Only once the bridge has started and the port is bound: a configuration error must
        # not follow a line that says the server is listening. Printed before the first
        # request is served (nothing here awaits), so whoever sees it answer sees this first.
        url = config.public_url or f"http://{host}:{port}"
        which = f"  worker {slot[0]} of {slot[1]}, pid {os.getpid()}" if slot is not None else ""
        print(f"  listening http://{host}:{port}  (health: {url}/health){which}", flush=True)
        if slot is None or slot[0] == 1:
            print(*steps, sep="\n", flush=True)

    run(app_with_steps(), config, _event_loop(), on_listening=announce, reuse_port=slot is not None)
    return 0


def _supervise(args: argparse.Namespace, config: Config) -> int:
    """``serve --workers N``: migrate once, then N worker processes on the port (PostgreSQL)."""
    from sqlalchemy.engine import make_url

    from bridgekit.supervisor import Supervisor, worker_command

    if args.workers < 1:
        raise ConfigError(f"--workers must be 1 or more, not {args.workers}")
    if make_url(config.database_url).get_backend_name() != "postgresql":
        raise ConfigError(
            f"--workers {args.workers} needs PostgreSQL: SQLite allows one writing process, so run "
            "one process (no --workers) or set [database] url to a postgresql:// URL (docs/deploy.md)"
        )
    if config.port == 0:
        raise ConfigError(
            "--workers needs a fixed port ([server] port or --port), not 0: the workers share it"
        )
    asyncio.run(Database(config.database_url).migrate())  # once, before any worker starts
    print(
        f"bridgekit {__version__}: {args.workers} workers on http://{config.host}:{config.port}, "
        f"configuration {config.source or 'defaults'}",
        flush=True,
    )
    argv = ["--log-level", args.log_level, "--log-format", args.log_format, "serve"]
    if config.source is not None:
        argv += ["--config", str(config.source)]
    argv += ["--host", config.host, "--port", str(config.port)]
    return Supervisor(worker_command(argv), args.workers, config.host, config.port).run()


def _program() -> str:
    """How to run bridgekit again the way this process was run, for printed commands."""
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name == "bridgekit":
        return shlex.quote(os.path.abspath(argv0))
    return f"{shlex.quote(sys.executable)} -m bridgekit.cli"


def cmd_migrate(args: argparse.Namespace) -> int:
    config = _config(args)
    asyncio.run(Database(config.database_url).migrate())
    print(f"database is up to date: {config.database_url}")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    config = _config(args)
    plugins = load_plugins(config)
    for ch in plugins.channels.values():
        print(f"{ch.spec.name:<16} {ch.spec.title:<20} {ch.plugin_name} {ch.version or ''}".rstrip())
    others = [
        p
        for p in plugins.plugins.values()
        if p.name not in {c.plugin_name for c in plugins.channels.values()}
    ]
    for p in sorted(others, key=lambda p: p.name):
        print(f"{'(no channel)':<16} {'':<20} {p.name} {p.version or ''}".rstrip())
    return 0


def cmd_managers(args: argparse.Namespace) -> int:
    from bridgekit.inbox.managers import create_manager, rotate_token, set_email
    from bridgekit.inbox.sessions import LINK_TTL, create_password_link

    config = _config(args)
    hours = int(LINK_TTL.total_seconds() // 3600)

    def link_line(token: str) -> str:
        return f"set-password link (once, within {hours} h): {config.base_url}/set-password/{token}"

    async def run() -> str:
        plugins = load_plugins(config)
        bridge = Bridge(config, plugins)
        await bridge.db.migrate()
        workspace_id = await bridge._ensure_workspace()
        try:
            if args.action == "create":
                perms = tuple(p for p in (args.permission or []))
                manager_id, token = await create_manager(
                    bridge.db,
                    workspace_id,
                    args.name,
                    operator=args.operator,
                    permissions=perms,
                    email=args.email,
                )
                lines = [f"manager {manager_id} created; API token (shown once): {token}"]
                if args.email is not None:
                    lines.append(link_line(await create_password_link(bridge.db, manager_id)))
                return "\n".join(lines)
            if args.action == "password-link":
                if args.email is not None:
                    await set_email(bridge.db, args.id, args.email)
                return link_line(await create_password_link(bridge.db, args.id))
            token = await rotate_token(bridge.db, args.id)
            return f"new API token for manager {args.id} (shown once): {token}"
        finally:
            await bridge.db.dispose()

    print(asyncio.run(run()))
    return 0


def cmd_secrets(args: argparse.Namespace) -> int:
    from bridgekit.storage.secret_box import rotate_secrets

    config = _config(args)

    async def run() -> str:
        db = Database(config.database_url)
        try:
            await db.migrate()
            return await rotate_secrets(db, config.data_dir, config.secret_keys)
        finally:
            await db.dispose()

    print(asyncio.run(run()))
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    from bridgekit.inbox.charges import month_bounds, monthly_usage

    config = _config(args)
    month_bounds(args.month, args.time_zone)  # a typo is refused before the database is opened

    async def run() -> str:
        db = Database(config.database_url)
        try:
            await db.migrate()
            async with db.read() as conn:
                workspace_id = await installed_workspace(conn)
                usage = await monthly_usage(conn, workspace_id or 0, args.month, args.time_zone)
        finally:
            await db.dispose()
        head = (
            f"usage in {usage.month} ({usage.time_zone}: {iso(usage.start)} to {iso(usage.end)}),"
            " in PU (1 PU = 1 KRW); failed sends are free"
        )
        table = [("integration", "channel", "category", "charges", "PU")]
        table += [
            (
                line.integration or "(removed)",
                line.channel or "",
                line.category,
                str(line.charges),
                str(line.amount_pu),
            )
            for line in usage.lines
        ]
        table.append(("total", "", "", str(usage.charges), str(usage.total_pu)))
        widths = [max(len(row[i]) for row in table) for i in range(5)]
        rows = [
            "  ".join(
                [
                    *(v.ljust(w) for v, w in zip(row[:3], widths, strict=False)),
                    row[3].rjust(widths[3]),
                    row[4].rjust(widths[4]),
                ]
            )
            for row in table
        ]
        return "\n".join([head, *rows])

    print(asyncio.run(run()))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import tempfile

    from bridgekit.demo import demo_config, run_demo

    if args.log_level.upper() == "INFO" and "BRIDGEKIT_LOG_LEVEL" not in os.environ:
        setup_logging(
            "WARNING", args.log_format
        )  # the demo's own lines are the point; --log-level shows more
    directory = args.dir or Path(tempfile.mkdtemp(prefix="bridgekit-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    config = demo_config(_config(args), directory, args.host, args.port)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a demo ends
        asyncio.run(run_demo(config, interval=args.interval, messages=args.messages))
    print(f"demo stopped; its database and files are in {directory}")
    return 0


def cmd_new_plugin(args: argparse.Namespace) -> int:
    from bridgekit.scaffold import new_plugin

    target = new_plugin(args.name, args.dir)
    print(
        f"wrote the {args.name} channel plugin to {target}\n"
        f"  pip install -e {shlex.quote(f'{target}[test]')}   # then it is loaded like any plugin\n"
        f"  cd {shlex.quote(str(target))} && pytest   # the conformance suite, against its sandbox\n"
        f"next: replace the wire format in {target}/bridgekit_{args.name}/plugin.py "
        "(see its README.md and docs/hooks.md)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bridgekit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"bridgekit {__version__}")
    parser.add_argument("--log-level", default=os.environ.get("BRIDGEKIT_LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=os.environ.get("BRIDGEKIT_LOG_FORMAT", "auto"),
        help="auto (default): readable lines on a terminal, JSON lines otherwise",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--config", "-c", type=Path, help="bridgekit.toml (default: ./bridgekit.toml if present)"
        )
        return p

    serve = with_config(sub.add_parser("serve", help="run the server"))
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (PostgreSQL only; default 1); see docs/deploy.md",
    )
    serve.set_defaults(func=cmd_serve)
    with_config(sub.add_parser("migrate", help="apply database migrations")).set_defaults(func=cmd_migrate)
    with_config(sub.add_parser("plugins", help="list loaded channels in inbox order")).set_defaults(
        func=cmd_plugins
    )

    demo = with_config(
        sub.add_parser("demo", help="a working inbox against the channel plugins' sandboxes, no accounts")
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--interval", type=float, default=5.0, help="seconds between customer messages")
    demo.add_argument("--messages", type=int, help="stop after this many customer messages")
    demo.add_argument("--dir", type=Path, help="where the demo database lives (default: a new temp dir)")
    demo.set_defaults(func=cmd_demo)

    managers = sub.add_parser("managers", help="create managers, rotate API tokens, send set-password links")
    msub = managers.add_subparsers(dest="action", required=True)
    create = with_config(msub.add_parser("create"))
    create.add_argument("name")
    create.add_argument("--operator", action="store_true", help="give the operator seat")
    create.add_argument("--permission", action="append", choices=PERMISSIONS, help="repeatable")
    create.add_argument("--email", help="what they sign in with in a browser; prints a set-password link")
    rotate = with_config(msub.add_parser("rotate"))
    rotate.add_argument("id", type=int)
    link = with_config(
        msub.add_parser("password-link", help="a new one-time link to set a manager's password")
    )
    link.add_argument("id", type=int)
    link.add_argument("--email", help="set or change the email they sign in with first")
    for p in (create, rotate, link):
        p.set_defaults(func=cmd_managers)

    usage = with_config(
        sub.add_parser("usage", help="what the workspace was charged in a month, per integration (PU)")
    )
    usage.add_argument("--month", help="YYYY-MM (default: the month running now in --time-zone)")
    usage.add_argument("--time-zone", help="the IANA zone whose calendar month is meant (default UTC)")
    usage.set_defaults(func=cmd_usage)

    scaffold = sub.add_parser(
        "new-plugin", help="write a working webhook channel plugin to start a new messenger from"
    )
    scaffold.add_argument("name", help="the channel's name: lower-case letters, digits, underscores")
    scaffold.add_argument("--dir", type=Path, help="where to write it (default: plugins/NAME)")
    scaffold.set_defaults(func=cmd_new_plugin)

    secrets = sub.add_parser("secrets", help="the key that encrypts integration secrets")
    ssub = secrets.add_subparsers(dest="action", required=True)
    with_config(
        ssub.add_parser("rotate", help="re-encrypt every stored secret with a new key (see README)")
    ).set_defaults(func=cmd_secrets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        setup_logging(args.log_level, args.log_format)
        return int(args.func(args))
    except BridgekitError as exc:
        print(f"bridgekit: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
