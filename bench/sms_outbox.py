"""SMS outbound throughput: texts sent through bridgekit's outbox to the Twilio sandbox vs. a
bare aiohttp client posting the same requests (issue 15).

The Twilio sandbox (``bridgekit_sms.sandbox.TwilioSandbox``: Basic auth, form parsing, GSM-7
segment counting, a JSON answer) runs in its own process. Then, in this process, one after
the other:

* ``bridgekit`` -- a real bridgekit (``bridgekit.testing.harness.start_bridge``, a SQLite file,
  the ``sms`` plugin with one integration pointed at the sandbox). A manager starts a chat
  with an international number (E10), then replies N times through the HTTP API,
  ``--concurrency`` at a time; each reply is stored, queued in the outbox, delivered by the
  plugin (E.164, opt-out check, sender check, segments, the Twilio Messages API) and marked
  sent and billed. Measured from the first reply to the sandbox having accepted all N.
* ``baseline`` -- an ``aiohttp.ClientSession`` posting the same N Messages API requests
  (same form fields, Basic auth, ``--concurrency`` at a time) and reading each answer.

Printed: texts per second and CPU per text (this process's CPU time: for bridgekit it
includes the API requests that queue the replies, so it is an upper bound) for each, and the
ratio bridgekit / baseline. Target: throughput ratio >= 0.5. Also bridgekit's CPU a text split
into the event loop's thread and the other threads (the SQLite writer), the load average, and
the CPU ratio ("CPU x"), which on a shared machine is the steadier figure.

bridgekit's heap is settled after start as ``bridgekit serve`` settles it once up
(``bridgekit.web.server.settle_the_heap``); ``--unsettled-heap`` leaves it as the harness does,
as this bench ran before session 12.

    python bench/sms_outbox.py             # 2,000 texts
    python bench/sms_outbox.py --quick     # 200 texts: smoke test
    python bench/sms_outbox.py --unsettled-heap
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from benchlib import SMS_CUSTOMER, start_sms_bridge, start_sms_chat

HOST = "127.0.0.1"
CUSTOMER = SMS_CUSTOMER
TARGET = 0.5


def serve_sandbox(port: int) -> None:
    from aiohttp import web
    from bridgekit_sms.sandbox import TwilioSandbox

    async def main() -> None:
        sandbox = TwilioSandbox()
        sandbox.account_sid = "AC" + "0" * 32
        sandbox.auth_token = "bench-token"

        async def count(_request: web.Request) -> web.Response:
            return web.json_response({"sent": len(sandbox.sent)})

        sandbox.app.router.add_get("/bench/count", count)
        await sandbox.start(host=HOST, port=port)
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/bench/count") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise SystemExit("the sandbox did not start")


async def sent_count(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/bench/count") as resp:
        return int((await resp.json())["sent"])


async def run_bridgekit(
    url: str, n: int, concurrency: int, *, queued_first: bool, settle: bool = True
) -> tuple[float, float]:
    from bridgekit.web.server import settle_the_heap

    with tempfile.TemporaryDirectory() as tmp:
        running, plugin = await start_sms_bridge(Path(tmp), url)
        if settle:
            # What ``bridgekit serve`` does once it is up (start-up's ~140k objects frozen out
            # of the collector, the youngest generation collected less often): without it a
            # full collection in the window walked them all, ~65 ms.
            settle_the_heap()
        try:
            chat_id = await start_sms_chat(running)
            async with aiohttp.ClientSession() as probe:
                await running.wait_for(lambda: _at_least(probe, url, 1), timeout=30)
                base = await sent_count(probe, url)
                queue: asyncio.Queue[int] = asyncio.Queue()
                for i in range(n):
                    queue.put_nowait(i)

                async def replier() -> None:
                    while not queue.empty():
                        i = queue.get_nowait()
                        await running.api(
                            "POST", f"/chats/{chat_id}/messages", json={"text": f"Text {i} of the run"}
                        )

                outbox = running.bridge.outbox
                assert outbox is not None
                if queued_first:  # the replies wait in the outbox; only their sending is timed
                    await outbox.stop()
                    await asyncio.gather(*(replier() for _ in range(concurrency)))
                    cpu0, t0, loop0 = time.process_time(), time.perf_counter(), time.thread_time()
                    outbox.start()
                else:
                    cpu0, t0, loop0 = time.process_time(), time.perf_counter(), time.thread_time()
                    await asyncio.gather(*(replier() for _ in range(concurrency)))
                queued_after = time.perf_counter() - t0
                await running.wait_for(lambda: _at_least(probe, url, base + n), timeout=600, interval=0.01)
                elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                loop_cpu = time.thread_time() - loop0
                print(
                    f"bridgekit ({'queued' if queued_first else 'API'}): CPU a text {cpu / n * 1000:.3f} ms, "
                    f"of which the event loop's thread {loop_cpu / n * 1000:.3f} ms, "
                    f"other threads (the SQLite writer) {(cpu - loop_cpu) / n * 1000:.3f} ms"
                )
                if not queued_first:
                    print(
                        f"bridgekit: {n} replies queued through the API in {queued_after:.2f} s, "
                        f"all sent after {elapsed:.2f} s"
                    )
        finally:
            await running.close()
            await plugin.aclose()
    return n / elapsed, cpu / n


async def _at_least(session: aiohttp.ClientSession, url: str, n: int) -> bool:
    return await sent_count(session, url) >= n


async def run_baseline(url: str, n: int, concurrency: int) -> tuple[float, float]:
    endpoint = f"{url}/2010-04-01/Accounts/{'AC' + '0' * 32}/Messages.json"
    auth = "Basic " + base64.b64encode(f"AC{'0' * 32}:bench-token".encode()).decode()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    async with aiohttp.ClientSession() as session:

        async def sender() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                form = {"To": CUSTOMER, "From": "+14155550100", "Body": f"Text {i} of the run"}
                async with session.post(endpoint, data=form, headers={"Authorization": auth}) as resp:
                    data: dict[str, Any] = json.loads(await resp.read())
                    if resp.status != 201 or not data.get("sid"):
                        raise SystemExit(f"baseline send failed: {resp.status} {data}")

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return n / elapsed, cpu / n


async def run_plugin_alone(url: str, n: int, concurrency: int) -> tuple[float, float]:
    """The plugin's ``bridgekit_deliver`` called directly (no API, no outbox): its own share."""
    from bridgekit_sms.plugin import SmsPlugin

    from bridgekit.model import Contact, Integration, OutboundMessage

    plugin = SmsPlugin()
    integration = Integration(
        1,
        "sms",
        "sms",
        {
            "twilio_api_base": url,
            "twilio_account_sid": "AC" + "0" * 32,
            "registered_senders": ["+14155550100"],
            "sender_number": "+14155550100",
        },
        {"twilio_auth_token": "bench-token"},
    )
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def sender() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            message = OutboundMessage(
                i, 1, f"key-{i}", Contact("phone", CUSTOMER), CUSTOMER, f"Text {i} of the run"
            )
            await plugin.bridgekit_deliver(integration, message)

    try:
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        await plugin.aclose()
    return n / elapsed, cpu / n


async def main(args: argparse.Namespace) -> int:
    load = f"{os.getloadavg()[0]:.1f}"
    with socketless_port() as port:
        url = f"http://{HOST}:{port}"
        sandbox = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve-sandbox", str(port), stdout=asyncio.subprocess.DEVNULL
        )
        try:
            await wait_ready(url)
            n = 200 if args.quick else args.texts
            base_rate, base_cpu = await run_baseline(url, n, args.concurrency)
            alone_rate, alone_cpu = await run_plugin_alone(url, n, args.concurrency)
            settle = not args.unsettled_heap
            bk_rate, bk_cpu = await run_bridgekit(url, n, args.concurrency, queued_first=True, settle=settle)
            api_rate, api_cpu = await run_bridgekit(
                url, n, args.concurrency, queued_first=False, settle=settle
            )
        finally:
            sandbox.terminate()
            await sandbox.wait()
    ratio = bk_rate / base_rate
    heap = "as the harness leaves it" if args.unsettled_heap else "settled as `bridgekit serve` does"
    print(f"texts: {n}, concurrency {args.concurrency}; bridgekit's heap {heap}; load average {load}")
    print(f"baseline  (bare aiohttp client): {base_rate:8.1f} texts/s, {base_cpu * 1000:6.2f} ms CPU/text")
    print(f"sms plugin alone (deliver hook):  {alone_rate:8.1f} texts/s, {alone_cpu * 1000:6.2f} ms CPU/text")
    print(f"bridgekit (outbox -> sms plugin): {bk_rate:8.1f} texts/s, {bk_cpu * 1000:6.2f} ms CPU/text")
    print(f"bridgekit (API -> outbox -> sms): {api_rate:8.1f} texts/s, {api_cpu * 1000:6.2f} ms CPU/text")
    verdict = "OK" if ratio >= TARGET else "MISSED"
    print(
        f"ratio bridgekit/baseline: {ratio:.2f} texts/s (target >= {TARGET}: {verdict}); "
        f"CPU x{bk_cpu / base_cpu:.2f}"
    )
    return 0


@contextlib.contextmanager
def socketless_port() -> Any:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = int(sock.getsockname()[1])
    yield port


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve-sandbox", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--unsettled-heap",
        action="store_true",
        help="skip bridgekit.web.server.settle_the_heap after start (as this bench ran before)",
    )
    parsed = parser.parse_args()
    if parsed.serve_sandbox:
        serve_sandbox(parsed.serve_sandbox)
    else:
        sys.exit(asyncio.run(main(parsed)))
