# ruff: noqa: RUF001
"""SMTP ingest throughput: bridgekit's email-forward plugin vs. a bare aiosmtpd baseline (issue #3).

Two SMTP servers are measured the same way, each as its own process pinned to its own CPU:

* ``bridgekit`` -- the real thing: ``bridgekit serve`` with a generated ``bridgekit.toml``
  (SQLite file in a temporary directory, ``[plugins] enabled = ["email_forward"]``, one
  ``channel = "email"`` integration listening on 127.0.0.1; the reply relay points at a closed
  local port and is never used: the benchmark sends no replies). Default log level (INFO).
* ``baseline`` -- aiosmtpd's ``SMTP`` protocol on an asyncio loop (``loop.create_server``, as
  the plugin runs it; not the threaded ``Controller``) with the plugin's protocol settings
  (SMTPUTF8, 35 MiB size limit, 1 MiB line limit) and a ``handle_DATA`` that parses the mail
  with ``mailparser.parse_from_bytes`` and answers 250, storing nothing.

A load generator process (pinned to the other CPU(s)) keeps ``--concurrency`` persistent SMTP
connections busy (EHLO once, then MAIL FROM / RCPT TO / DATA per mail, no pipelining: aiosmtpd
does not offer it), speaking SMTP directly on asyncio streams with every mail pre-built before
the clock starts (``--client aiosmtplib`` uses aiosmtplib instead, as a cross-check). The mails
are a mix of ten shapes -- Korean UTF-8 (base64 and quoted-printable with a quoted Gmail reply),
Korean EUC-KR and Outlook ``ks_c_5601-1987``, Japanese ISO-2022-JP (plain and a quoted reply),
HTML+text multipart/alternative (Korean and English), a multipart/mixed mail with two small
attachments (unique bytes per send) and a Gmail-style forwarded mail -- from 200 senders, each
send with its own Message-ID (bridgekit deduplicates on it). Every final reply must be 250
(MAIL/RCPT 250, DATA 354); anything else makes the run invalid. Runs are bounded by time and by
a mail count. Each target runs ``--rounds`` times, interleaved, after a warm-up, on a fresh
database; the medians are compared. After each bridgekit round every acknowledged Message-ID is
looked up in bridgekit's ``messages`` table.

    python bench/smtp_ingest.py            # 3 rounds x 10 s per target
    python bench/smtp_ingest.py --quick    # a few seconds: smoke test

Exit status 0 when the measurement is valid, even if the target is missed (printed as MISSED);
1 when it is not (a non-250 reply, a connection error, a lost mail, a server that did not start).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import quopri
import shutil
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import (
    ACKED,
    FAILED,
    REFUSED,
    BenchRun,
    LoadState,
    add_before_option,
    add_load_role_options,
    add_round_options,
    check_rounds_stored,
    config_head,
    cpu_seconds,
    exit_status,
    free_port,
    load_argv,
    measure,
    pct,
    print_changes,
    resolve_rounds,
    run_in_workdir,
    run_load_generator,
    spawn,
    stop,
    storage_note,
    stored_inbound,
    tail,
)

SCRIPT = str(Path(__file__).resolve())
HOST = "127.0.0.1"
INTEGRATION = "bench-email"
ADDRESS = "bench@in.bridgekit.example"
ENVELOPE_FROM = "support@brand.example"  # the brand mailbox that forwards
MAX_MESSAGE_BYTES = 35 * 1024 * 1024  # the plugin's defaults, mirrored by the baseline
MAX_LINE_BYTES = 1024 * 1024
SENDERS = 200
TARGET_RATIO = 0.7
# A run is disturbed when the server got less than 90% of a CPU while its threads spent more than
# this share of the measured window runnable but waiting for one (another process on its CPU).
STARVED = 0.15

TARGETS = ("bridgekit", "baseline")
LABELS = {
    "bridgekit": "bridgekit",
    "baseline": "baseline (aiosmtpd+mail-parser, no storage)",
    "before": "bridgekit before (--before)",
}


CRLF = b"\r\n"


# --------------------------------------------------------------------------------------------
# The mails
# --------------------------------------------------------------------------------------------


def message_id(tag: str, index: int) -> str:
    return f"<bench.{tag}.{index}@mail.bench.example>"


def _b64_word(charset: str, data: bytes) -> str:
    return f"=?{charset}?B?{base64.b64encode(data).decode()}?="


def _b64_lines(data: bytes) -> bytes:
    enc = base64.b64encode(data)
    return CRLF.join(enc[i : i + 76] for i in range(0, len(enc), 76))


def _qp(text: str, charset: str = "utf-8") -> bytes:
    return quopri.encodestring(text.encode(charset)).replace(b"\n", CRLF)


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _sender(index: int) -> tuple[str, str]:
    n = (index * 7919) % SENDERS
    names = ("김민지", "이서준", "박지훈", "최수아", "山田太郎", "佐藤花子", "Jane Doe", "John Smith")
    domains = ("gmail.com", "naver.com", "daum.net", "outlook.com", "yahoo.co.jp", "example.co.kr")
    return names[n % len(names)], f"customer{n:03d}@{domains[n % len(domains)]}"


def _headers(index: int, tag: str, subject: str, extra: list[str], charset: str = "UTF-8") -> list[str]:
    name, addr = _sender(index)
    try:
        encoded_name = _b64_word(charset, name.encode(charset.lower()))
    except UnicodeEncodeError:  # a Japanese name in a Korean mail or the other way round
        encoded_name = _b64_word("UTF-8", name.encode())
    # A burst of mail shares one second; Date is what mailers write, not wall time.
    minute, second = divmod(index % 3600, 60)
    return [
        f"Return-Path: <{addr}>",
        f"Received: from mail-{index % 97}.{addr.split('@')[1]} ([203.0.113.{index % 250 + 1}])"
        f" by mx.brand.example with ESMTPS id bench{index};"
        f" Tue, 5 Mar 2024 14:{minute:02d}:{second:02d} +0900",
        f"From: {encoded_name} <{addr}>",
        f"To: {_b64_word('UTF-8', 'ACME 고객센터'.encode())} <support@brand.example>",
        f"Subject: {subject}",
        f"Date: Tue, 5 Mar 2024 14:{minute:02d}:{second:02d} +0900",
        f"Message-ID: {message_id(tag, index)}",
        "MIME-Version: 1.0",
        *extra,
    ]


def _mail(headers: list[str], body: bytes) -> bytes:
    return CRLF.join(h.encode("utf-8") for h in headers) + CRLF + CRLF + body + CRLF


KO_BODY = (
    "안녕하세요, 지난주에 주문한 상품(주문번호 {n})이 아직 도착하지 않았습니다.\n"
    "배송 조회를 해 보니 '배송 준비 중'으로만 나옵니다. 언제쯤 받을 수 있을까요?\n"
    "급하게 필요한 물건이라 빠른 답변 부탁드립니다.\n\n"
    "감사합니다.\n김민지 드림\n"
)
KO_QUOTE = (
    "\n2024년 3월 4일 (월) 오후 2:31, ACME 고객센터 <support@brand.example>님이 작성:\n"
    "> 안녕하세요 고객님, ACME 고객센터입니다.\n"
    "> 문의하신 주문은 3월 5일에 출고될 예정입니다.\n"
    "> 추가로 궁금하신 점이 있으면 언제든지 회신 주세요.\n"
    ">\n> 감사합니다.\n> ACME 고객센터 드림\n"
)
JA_BODY = (
    "お世話になっております。山田と申します。\n"
    "先日注文した商品（注文番号 {n}）について、サイズ交換をお願いしたく連絡いたしました。\n"
    "Ｍサイズを注文しましたが、Ｌサイズへの交換は可能でしょうか。\n"
    "（１）返送方法、（２）交換にかかる日数 を教えていただけますと幸いです。\n\n"
    "よろしくお願いいたします。\n山田太郎\n"
)
JA_QUOTE = (
    "\n2024年3月4日(月) 14:31 ACMEサポート <support@brand.example>:\n"
    "> 山田様\n> お問い合わせありがとうございます。\n"
    "> ご注文の商品は3月5日に発送予定です。\n"
)
HTML = (
    "<html><head><meta charset='utf-8'><style>p{{margin:0 0 8px}}</style></head><body>"
    "<div dir='ltr'><p>안녕하세요,</p><p>환불 요청드립니다. 주문번호 <b>{n}</b>의 상품이 "
    "파손된 상태로 도착했습니다.</p><p>사진을 첨부하려 했는데 <a href='https://example.com/p'>"
    "링크</a>로 대신합니다.</p><table><tr><td>상품</td><td>무선 이어폰</td></tr>"
    "<tr><td>수량</td><td>1</td></tr></table><p>감사합니다.</p></div></body></html>"
)
EN_HTML = (
    "<html><body><div>Hi there,<br><br>I was charged twice for order <b>#{n}</b> on my credit card."
    " Could you please refund the duplicate charge?<br><br>Best regards,<br>Jane<br>"
    "<div class='gmail_signature'>-- <br>Jane Doe | +1 555 0100</div></div></body></html>"
)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n" + b"% receipt line item padding\n" * 60
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _jis(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("iso-2022-jp")


def build_mail(kind: int, index: int, tag: str) -> bytes:
    """One of the ten mail shapes with its own Message-ID (and unique attachment bytes)."""
    n = f"2024{index:08d}"
    if kind == 0:  # Gmail, Korean UTF-8, base64
        h = _headers(
            index,
            tag,
            _b64_word("UTF-8", f"배송 문의 드립니다 ({n})".encode()),
            ['Content-Type: text/plain; charset="UTF-8"', "Content-Transfer-Encoding: base64"],
        )
        return _mail(h, _b64_lines(_crlf(KO_BODY.format(n=n)).encode()))
    if kind == 1:  # Gmail reply, Korean UTF-8, quoted-printable, quoted history
        h = _headers(
            index,
            tag,
            _b64_word("UTF-8", "Re: 배송 문의 드립니다".encode()),
            [
                "In-Reply-To: <bk.abc123.def456@brand.example>",
                "References: <orig.1@gmail.com> <bk.abc123.def456@brand.example>",
                'Content-Type: text/plain; charset="UTF-8"',
                "Content-Transfer-Encoding: quoted-printable",
            ],
        )
        return _mail(h, _qp(KO_BODY.format(n=n) + KO_QUOTE))
    if kind == 2:  # Naver, EUC-KR, base64
        h = _headers(
            index,
            tag,
            _b64_word("EUC-KR", f"교환 요청 ({n})".encode("euc-kr")),
            ["Content-Type: text/plain; charset=EUC-KR", "Content-Transfer-Encoding: base64"],
            charset="EUC-KR",
        )
        return _mail(h, _b64_lines(_crlf(KO_BODY.format(n=n)).encode("euc-kr")))
    if kind == 3:  # Outlook, ks_c_5601-1987 (CP949 bytes), base64
        h = _headers(
            index,
            tag,
            _b64_word("ks_c_5601-1987", f"[문의] 환불 요청 ({n})".encode("cp949")),
            [
                "Thread-Topic: =?ks_c_5601-1987?B?"
                + base64.b64encode("환불".encode("cp949")).decode()
                + "?=",
                "X-Mailer: Microsoft Outlook 16.0",
                'Content-Type: text/plain; charset="ks_c_5601-1987"',
                "Content-Transfer-Encoding: base64",
            ],
            charset="ks_c_5601-1987",
        )
        return _mail(h, _b64_lines(_crlf(KO_BODY.format(n=n)).encode("cp949")))
    if kind == 4:  # Japanese ISO-2022-JP, 7bit
        h = _headers(
            index,
            tag,
            _b64_word("ISO-2022-JP", f"サイズ交換のお願い（{n}）".encode("iso-2022-jp")),
            ['Content-Type: text/plain; charset="ISO-2022-JP"', "Content-Transfer-Encoding: 7bit"],
            charset="ISO-2022-JP",
        )
        return _mail(h, _jis(JA_BODY.format(n=n)))
    if kind == 5:  # Japanese ISO-2022-JP reply with a quote
        h = _headers(
            index,
            tag,
            _b64_word("ISO-2022-JP", "Re: ご注文について".encode("iso-2022-jp")),
            [
                "In-Reply-To: <bk.jp1.k1@brand.example>",
                "References: <bk.jp1.k1@brand.example>",
                'Content-Type: text/plain; charset="ISO-2022-JP"',
                "Content-Transfer-Encoding: 7bit",
            ],
            charset="ISO-2022-JP",
        )
        return _mail(h, _jis(JA_BODY.format(n=n) + JA_QUOTE))
    if kind in (6, 7):  # HTML + text, multipart/alternative
        html = (HTML if kind == 6 else EN_HTML).format(n=n)
        text = (
            KO_BODY.format(n=n)
            if kind == 6
            else f"Hi there,\n\nI was charged twice for order #{n}. Could you refund it?\n\nJane\n"
        )
        boundary = f"000000000000alt{index:010d}"
        subject = _b64_word("UTF-8", "환불 요청".encode()) if kind == 6 else f"Double charge on order #{n}"
        h = _headers(index, tag, subject, [f'Content-Type: multipart/alternative; boundary="{boundary}"'])
        body = CRLF.join(
            [
                f"--{boundary}".encode(),
                b'Content-Type: text/plain; charset="UTF-8"',
                b"Content-Transfer-Encoding: quoted-printable",
                b"",
                _qp(text),
                f"--{boundary}".encode(),
                b'Content-Type: text/html; charset="UTF-8"',
                b"Content-Transfer-Encoding: quoted-printable",
                b"",
                _qp(html),
                f"--{boundary}--".encode(),
            ]
        )
        return _mail(h, body)
    if kind == 8:  # two small attachments, RFC 2231 Korean file name
        boundary = f"000000000000mix{index:010d}"
        pdf = PDF + f"% bench {tag} {index}\n%%EOF\n".encode()
        png = PNG + f"bench {tag} {index}".encode()
        fname = "영수증.pdf".encode()
        rfc2231 = "".join(f"%{b:02X}" for b in fname)
        h = _headers(
            index,
            tag,
            _b64_word("UTF-8", "영수증과 사진 보내드립니다".encode()),
            [f'Content-Type: multipart/mixed; boundary="{boundary}"'],
        )
        body = CRLF.join(
            [
                f"--{boundary}".encode(),
                b'Content-Type: text/plain; charset="UTF-8"',
                b"Content-Transfer-Encoding: base64",
                b"",
                _b64_lines(f"요청하신 영수증과 파손 사진을 첨부합니다. 주문번호 {n}\r\n".encode()),
                f"--{boundary}".encode(),
                b'Content-Type: application/pdf; name="receipt.pdf"',
                f"Content-Disposition: attachment; filename*=UTF-8''{rfc2231}".encode(),
                b"Content-Transfer-Encoding: base64",
                b"",
                _b64_lines(pdf),
                f"--{boundary}".encode(),
                b'Content-Type: image/png; name="photo.png"',
                b'Content-Disposition: attachment; filename="photo.png"',
                b"Content-Transfer-Encoding: base64",
                b"",
                _b64_lines(png),
                f"--{boundary}--".encode(),
            ]
        )
        return _mail(h, body)
    # kind 9: Gmail-style forward ("Fwd:" from the brand's staff of a customer's mail)
    name, addr = _sender(index + 1)
    text = (
        "고객 문의 전달드립니다.\n\n"
        "---------- Forwarded message ---------\n"
        f"From: {name} <{addr}>\n"
        "Date: 2024년 3월 4일 (월) 오전 9:12\n"
        "Subject: 주문 취소 요청\n"
        "To: <support@brand.example>\n\n"
        f"주문번호 {n} 취소 부탁드립니다. 결제도 취소되는지 알려주세요.\n"
    )
    boundary = f"000000000000fwd{index:010d}"
    h = _headers(
        index,
        tag,
        _b64_word("UTF-8", "Fwd: 주문 취소 요청".encode()),
        [f'Content-Type: multipart/alternative; boundary="{boundary}"'],
    )
    html = "<div dir='ltr'>" + text.replace("\n", "<br>") + "</div>"
    body = CRLF.join(
        [
            f"--{boundary}".encode(),
            b'Content-Type: text/plain; charset="UTF-8"',
            b"Content-Transfer-Encoding: base64",
            b"",
            _b64_lines(_crlf(text).encode()),
            f"--{boundary}".encode(),
            b'Content-Type: text/html; charset="UTF-8"',
            b"Content-Transfer-Encoding: base64",
            b"",
            _b64_lines(html.encode()),
            f"--{boundary}--".encode(),
        ]
    )
    return _mail(h, body)


KINDS = 10


def dot_stuff(raw: bytes) -> bytes:
    """The DATA payload: CRLF lines, leading dots doubled, ending with ``.``."""
    lines = raw.replace(CRLF, b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return CRLF.join(b"." + line if line.startswith(b".") else line for line in lines) + CRLF + b"." + CRLF


# --------------------------------------------------------------------------------------------
# Baseline server (``--serve-baseline``)
# --------------------------------------------------------------------------------------------


def serve_baseline(port: int) -> None:
    import mailparser
    from aiosmtpd.smtp import SMTP

    class BaselineSMTP(SMTP):  # type: ignore[misc]
        line_length_limit = MAX_LINE_BYTES  # as the plugin's protocol

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            mailparser.parse_from_bytes(envelope.original_content or b"")
            return "250 2.0.0 OK: queued"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        handler = Handler()

        def factory() -> SMTP:
            return BaselineSMTP(
                handler,
                data_size_limit=MAX_MESSAGE_BYTES,
                enable_SMTPUTF8=True,
                hostname="in.bridgekit.example",
                ident="baseline ESMTP",
                timeout=300,
            )

        server = await loop.create_server(factory, host=HOST, port=port)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.close()

    asyncio.run(main())


# --------------------------------------------------------------------------------------------
# Load generator (``--load``)
# --------------------------------------------------------------------------------------------


class SmtpError(Exception):
    def __init__(self, stage: str, reply: bytes) -> None:
        super().__init__(f"{stage}: {reply[:200]!r}")
        self.code = int(reply[:3]) if reply[:3].isdigit() else 0


async def _reply(reader: asyncio.StreamReader) -> bytes:
    """One (possibly multi-line) SMTP reply."""
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed by the server")
        lines.append(line)
        if line[3:4] != b"-":
            return b"".join(lines)


async def _raw_worker(state: LoadState, port: int, timeout: float) -> None:
    """One persistent SMTP connection sending pre-built DATA payloads."""
    mail_from = f"MAIL FROM:<{ENVELOPE_FROM}>\r\n".encode()
    rcpt_to = f"RCPT TO:<{ADDRESS}>\r\n".encode()
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    async def command(line: bytes, expect: int, stage: str) -> None:
        assert reader is not None
        assert writer is not None
        writer.write(line)
        reply = await _reply(reader)
        if int(reply[:3]) != expect:
            raise SmtpError(stage, reply)

    try:
        while (index := state.take()) is not None:
            try:
                async with asyncio.timeout(timeout):
                    if writer is None:
                        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
                        greeting = await _reply(reader)
                        if not greeting.startswith(b"220"):
                            raise SmtpError("greeting", greeting)
                        await command(b"EHLO bench.client.example\r\n", 250, "EHLO")
                    await command(mail_from, 250, "MAIL")
                    await command(rcpt_to, 250, "RCPT")
                    await command(b"DATA\r\n", 354, "DATA")
                    assert writer is not None
                    assert reader is not None
                    writer.write(state.items[index])
                    reply = await _reply(reader)
            except (
                SmtpError,
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                TimeoutError,
            ) as exc:
                if isinstance(exc, SmtpError):  # an answer, but a refusal: the mail counts as refused
                    state.completed += 1
                    state.counts[exc.code] = state.counts.get(exc.code, 0) + 1
                    state.outcome[index] = REFUSED
                    state.errors.append(str(exc))
                else:
                    state.failed(index, exc)
                if writer is not None:  # the next mail starts on a new connection
                    writer.close()
                reader = writer = None
                continue
            code = int(reply[:3]) if reply[:3].isdigit() else 0
            if code != 250:
                state.errors.append(f"end of DATA: {reply[:200]!r}")
            state.done(index, code)
        if writer is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await command(b"QUIT\r\n", 221, "QUIT")
    finally:
        if writer is not None:
            writer.close()


async def _aiosmtplib_worker(state: LoadState, raws: list[bytes], port: int, timeout: float) -> None:
    import aiosmtplib

    client: Any = None
    try:
        while (index := state.take()) is not None:
            try:
                if client is None:
                    client = aiosmtplib.SMTP(hostname=HOST, port=port, timeout=timeout, start_tls=False)
                    await client.connect()
                errors, _ = await client.sendmail(ENVELOPE_FROM, [ADDRESS], raws[index])
                code = 250 if not errors else 550
            except aiosmtplib.SMTPResponseException as exc:
                state.errors.append(f"{exc.code} {exc.message}")
                state.done(index, exc.code)
                with contextlib.suppress(Exception):
                    client.close()
                client = None
                continue
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                state.outcome[index] = FAILED
                state.errors.append(f"{type(exc).__name__}: {exc}")
                with contextlib.suppress(Exception):
                    client.close()
                client = None
                continue
            state.done(index, code)
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                await client.quit()


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _runqueue_wait(pid: int | None) -> float | None:
    """Seconds the process's threads waited, runnable, for a CPU (/proc/<pid>/task/*/schedstat)."""
    if not pid:
        return None
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int((task / "schedstat").read_text().split()[1])
    except OSError:
        return None
    return total / 1e9


async def run_load(args: argparse.Namespace) -> dict[str, Any]:
    # Everything is built before the clock starts: the generator only writes and reads bytes.
    built = time.perf_counter()
    raws = [build_mail(i % KINDS, i, args.tag) for i in range(args.max_mails)]
    payloads = [dot_stuff(r) for r in raws] if args.client == "raw" else []
    build_seconds = time.perf_counter() - built
    mean_bytes = sum(len(r) for r in raws) / max(1, len(raws))
    state = LoadState(payloads if args.client == "raw" else raws, bytearray(len(raws)), ok=250)
    if args.client == "raw":
        del raws
        tasks = [
            asyncio.ensure_future(_raw_worker(state, args.port, args.timeout))
            for _ in range(args.concurrency)
        ]
    else:
        tasks = [
            asyncio.ensure_future(_aiosmtplib_worker(state, state.items, args.port, args.timeout))
            for _ in range(args.concurrency)
        ]
    probes = {
        "server_wait": lambda: _runqueue_wait(args.server_pid),
        "server_cpu": lambda: cpu_seconds(args.server_pid),
    }
    window = await measure(state, tasks, args.warmup, args.duration, probes)
    if window is None:
        return {"error": f"the mail pool ({len(state.items)}) ran out during the warm-up; raise --max-mails"}
    _write_bytes(args.result, bytes(state.outcome))
    return {
        "mails_per_second": window.completed / window.seconds,
        "measured_mails": window.completed,
        "measured_seconds": window.seconds,
        "warmup_seconds": window.warmup_seconds,
        "build_seconds": build_seconds,
        "mean_bytes": mean_bytes,
        "sent": state.next_index,
        "acked": state.outcome.count(ACKED),
        "codes": {str(k): v for k, v in sorted(state.counts.items())},
        "non_250": sum(v for k, v in state.counts.items() if k != 250),
        **window.common(state),
    }


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


def write_bridgekit_config(workdir: Path, http_port: int, smtp_port: int, relay_port: int) -> Path:
    path = workdir / "bridgekit.toml"
    path.write_text(
        config_head(workdir, http_port) + "\n[plugins]\n"
        'enabled = ["email_forward"]\n'
        "\n[plugins.settings.email_forward]\n"
        f'smtp_host = "{HOST}"\n'
        f"smtp_port = {smtp_port}\n"
        "# Replies would go here; nothing listens and the benchmark sends none.\n"
        f'relay_host = "{HOST}"\n'
        f"relay_port = {relay_port}\n"
        'relay_tls = "none"\n'
        f"\n[integrations.{INTEGRATION}]\n"
        'channel = "email"\n'
        f"\n[integrations.{INTEGRATION}.settings]\n"
        f'address = "{ADDRESS}"\n'
        'default_from = "ACME 고객센터 <bench@in.bridgekit.example>"\n'
    )
    return path


def _idle_ticks() -> dict[int, int]:
    ticks = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/stat").read_text().splitlines():
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                ticks[int(name[3:])] = int(values[3]) + int(values[4])  # idle + iowait
    return ticks


def pick_cpus(cpus: list[int], sample: float = 0.5) -> tuple[set[int], set[int]]:
    """(server CPU, load generator CPUs): the server gets the CPU that was idlest just now."""
    before = _idle_ticks()
    time.sleep(sample)
    after = _idle_ticks()
    idlest = max(cpus, key=lambda c: (after.get(c, 0) - before.get(c, 0), c))
    return {idlest}, {c for c in cpus if c != idlest}


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1000:.2f} ms"


@dataclass
class Round:
    target: str
    rate: float
    result: dict[str, Any]
    stored: int | None = None
    missing: int | None = None
    flow_backlog: int | None = None


def starved(rnd: Round) -> bool:
    # A server that got (nearly) a whole CPU was not starved, whatever its own threads waited
    # for each other (bridgekit's SQLite and file threads share its one CPU).
    r = rnd.result
    return (r.get("server_wait") or 0.0) > STARVED and (r.get("server_cpu") or 1.0) < 0.9


def cpu_per_mail(rnd: Round) -> float | None:
    """Server CPU seconds per mail in the measured window: robust to a shared, busy CPU."""
    cpu = rnd.result.get("server_cpu")
    return cpu / rnd.rate if cpu and rnd.rate else None


class Bench(BenchRun):
    async def spawn(self, argv: list[str], log_path: Path, cwd: Path) -> asyncio.subprocess.Process:
        return await spawn(argv, log_path, cwd, self.server_cpus)

    async def wait_smtp(self, proc: asyncio.subprocess.Process, port: int, log_path: Path) -> None:
        """Until the server answers ``220`` on its SMTP port."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.returncode is None:
            with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError):
                async with asyncio.timeout(2):
                    reader, writer = await asyncio.open_connection(HOST, port)
                    try:
                        greeting = await reader.readline()
                        writer.write(b"QUIT\r\n")
                        await writer.drain()
                    finally:
                        writer.close()
                    if greeting.startswith(b"220"):
                        return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"SMTP server on port {port} did not start:\n{tail(log_path)}")

    async def stop(self, proc: asyncio.subprocess.Process) -> None:
        await stop(proc)

    async def load(self, port: int, workdir: Path, server_pid: int, tag: str) -> dict[str, Any]:
        a = self.args
        result_path = workdir / "outcome.bin"
        argv = [
            *load_argv(SCRIPT, port, result_path, a),
            "--tag",
            tag,
            "--max-mails",
            str(a.max_mails),
            "--client",
            a.client,
            "--server-pid",
            str(server_pid),
        ]
        return await run_load_generator(argv, self.client_cpus, a.warmup + a.duration + 180, result_path)

    def check_storage(self, db_path: Path, outcome: bytes, tag: str) -> tuple[int, int, int]:
        """(messages stored, acknowledged Message-IDs not stored, flow events still queued)."""
        stored_ids, backlog = stored_inbound(db_path, INTEGRATION)
        acked = [message_id(tag, i) for i, code in enumerate(outcome) if code == ACKED]
        missing = sum(1 for mid in acked if mid not in stored_ids)
        return len(stored_ids), missing, backlog

    # --- one round of one target ------------------------------------------------------------

    async def run_round(self, target: str, number: int) -> Round:
        workdir = self.workdir / f"{target}-{number}"
        workdir.mkdir()
        smtp_port = free_port()
        log_path = workdir / "server.log"
        tag = f"{target[:2]}{number}"
        if self.server_cpus:  # this machine may be shared: put the server on the idlest CPU
            self.server_cpus, self.client_cpus = await asyncio.to_thread(pick_cpus, self.cpus)
            os.sched_setaffinity(0, self.client_cpus)
        if target in ("bridgekit", "before"):
            config = write_bridgekit_config(workdir, free_port(), smtp_port, free_port())
            python = self.args.before if target == "before" else sys.executable
            argv = [python, "-m", "bridgekit.cli", "serve", "--config", str(config)]
        else:
            argv = [
                sys.executable,
                SCRIPT,
                "--serve-baseline",
                "--port",
                str(smtp_port),
            ]
        proc = await self.spawn(argv, log_path, workdir)
        try:
            await self.wait_smtp(proc, smtp_port, log_path)
            result = await self.load(smtp_port, workdir, proc.pid, tag)
            rnd = Round(target, float(result.get("mails_per_second", 0.0)), result)
            if target in ("bridgekit", "before") and "outcome" in result:
                await asyncio.sleep(0.2)  # let the flow worker settle (reported, not required)
                rnd.stored, rnd.missing, rnd.flow_backlog = self.check_storage(
                    workdir / "bridgekit.db", result["outcome"], tag
                )
        finally:
            await self.stop(proc)
        if not self.args.keep:
            for name in ("bridgekit.db", "bridgekit.db-wal", "bridgekit.db-shm", "outcome.bin"):
                with contextlib.suppress(FileNotFoundError):
                    (workdir / name).unlink()
            shutil.rmtree(workdir / "data", ignore_errors=True)
        return rnd

    def describe(self, rnd: Round, number: int) -> tuple[str, bool]:
        r = rnd.result
        label = LABELS[rnd.target]
        if "error" in r:
            return f"  {label:<44} run {number + 1}: INVALID: {r['error']}", False
        ok = r["non_250"] == 0 and r["errors"] == 0
        text = (
            f"  {label:<44} run {number + 1}: {rnd.rate:7.0f} mail/s"
            f" (server on CPU {','.join(map(str, sorted(self.server_cpus or ()))) or '-'})"
            f"  ({r['measured_mails']} in {r['measured_seconds']:.2f} s; sent {r['sent']},"
            f" 250: {r['acked']}, non-250: {r['non_250']}, errors: {r['errors']}"
            f"{', pool exhausted' if r['pool_exhausted'] else ''})"
            f"\n    CPU during the measured window: server {pct(r.get('server_cpu'))}"
            f" ({_ms(cpu_per_mail(rnd))} CPU per mail; waited for a CPU {pct(r.get('server_wait'))}),"
            f" load generator {pct(r.get('client_cpu'))}"
        )
        if starved(rnd):
            text += (
                f"\n    DISTURBED: the server waited for its CPU {pct(r.get('server_wait'))} of the window"
                " (another process runs on it): this run's mail/s is not comparable"
            )
        if not ok:
            text += f"\n    INVALID: reply codes {r['codes']}, samples {r['error_samples']}"
        note, all_stored = storage_note(rnd, "ACKNOWLEDGED MAILS MISSING")
        return text + note, ok and all_stored

    # --- the whole run ------------------------------------------------------------------------

    async def run(self) -> int:
        a = self.args
        if self.client_cpus:
            self.log(
                f"CPU pinning: each run's server on the idlest of CPUs {self.cpus},"
                " the load generator on the other(s)"
            )
        else:
            self.log("CPU pinning: off")
        sizes = [len(build_mail(k, k, "size")) for k in range(KINDS)]
        self.log(
            f"{KINDS} mail shapes, {min(sizes)}-{max(sizes)} bytes (mean {sum(sizes) / KINDS:.0f}),"
            f" each send with a unique Message-ID, from {SENDERS} senders"
        )
        self.log(
            f"{a.rounds} round(s) per target, interleaved; {a.concurrency} persistent SMTP connections"
            f" ({a.client} client), {a.warmup:g} s warm-up + {a.duration:g} s measured"
            f" (at most {a.max_mails} mails per run)"
        )
        rounds: list[Round] = []
        valid = True
        for number in range(a.rounds):
            order = TARGETS if number % 2 == 0 else TARGETS[::-1]
            for target in (*order, "before") if a.before else order:
                rnd = await self.run_round(target, number)
                text, ok = self.describe(rnd, number)
                self.log(text)
                valid &= ok
                rounds.append(rnd)
        return self.summarise(rounds, valid)

    def summarise(self, rounds: list[Round], valid: bool) -> int:
        med = {t: statistics.median([r.rate for r in rounds if r.target == t]) for t in TARGETS}
        ratio = med["bridgekit"] / med["baseline"] if med["baseline"] else 0.0
        disturbed = [r for r in rounds if starved(r)]
        verdict = "OK" if ratio >= TARGET_RATIO else "MISSED"
        if disturbed:
            verdict = "UNRELIABLE"
        print()
        print(
            f"bridgekit {med['bridgekit']:.0f} mail/s | {LABELS['baseline']} {med['baseline']:.0f} mail/s"
            f" | ratio {ratio:.2f} (target >= {TARGET_RATIO:g}) {verdict}"
        )
        cpu = {
            t: [c for r in rounds if r.target == t and (c := cpu_per_mail(r)) is not None] for t in TARGETS
        }
        cpu_ratio: float | None = None
        if all(cpu.values()):
            bk_ms, base_ms = (statistics.median(cpu[t]) for t in TARGETS)
            cpu_ratio = base_ms / bk_ms
            print(
                f"server CPU per mail (medians): bridgekit {_ms(bk_ms)} | baseline {_ms(base_ms)}"
                f" | CPU-time ratio {cpu_ratio:.2f} (target >= {TARGET_RATIO:g})"
                f" {'OK' if cpu_ratio >= TARGET_RATIO else 'MISSED'}"
            )
        if disturbed:
            print(
                f"UNRELIABLE: in {len(disturbed)} run(s) the server waited for its CPU more than"
                f" {STARVED:.0%} of the time (other load on this machine); the throughput ratio is"
                " not meaningful, the CPU-time ratio is"
            )
        before = [r.rate for r in rounds if r.target == "before"]
        if before:
            med_before = statistics.median(before)
            before_cpu = [c for r in rounds if r.target == "before" and (c := cpu_per_mail(r)) is not None]
            line = (
                f"before (--before {self.args.before}): {med_before:.0f} mail/s"
                f" | ratio {med_before / med['baseline']:.2f}"
                f" | after / before {med['bridgekit'] / med_before:.2f}"
            )
            if before_cpu and cpu["baseline"]:
                base_ms = statistics.median(cpu["baseline"])
                line += f" | CPU-time ratio {base_ms / statistics.median(before_cpu):.2f}"
            print(line)
            print_changes(
                [r for r in rounds if r.target == "bridgekit"],
                [r for r in rounds if r.target == "before"],
                lambda r: r.rate,
                cpu_per_mail,
                "mail/s",
            )
        if not check_rounds_stored(
            rounds, "accepted mails", "every acknowledged Message-ID found in messages"
        ):
            valid = False
        if not disturbed and ratio < TARGET_RATIO:
            print(f"MISSED: bridgekit is {ratio:.2f} x the baseline, the target is >= {TARGET_RATIO:g} x")
        elif disturbed and cpu_ratio is not None and cpu_ratio < TARGET_RATIO:
            print(
                f"MISSED: by CPU time bridgekit is {cpu_ratio:.2f} x the baseline,"
                f" the target is >= {TARGET_RATIO:g} x"
            )
        return exit_status(valid)


# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_round_options(p)
    p.add_argument("--concurrency", type=int, default=16, help="persistent SMTP connections (default 16)")
    p.add_argument(
        "--max-mails", type=int, help="pre-built mails per run, a hard cap (default 30000; --quick 6000)"
    )
    p.add_argument(
        "--client",
        choices=("raw", "aiosmtplib"),
        default="raw",
        help="load generator: pre-built SMTP bytes on asyncio streams (default) or aiosmtplib",
    )
    p.add_argument("--no-pin", action="store_true", help="do not pin servers and load generator to CPUs")
    add_before_option(p)
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (prints its path)")
    # Internal roles: the same file is the baseline server and the load generator.
    p.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    add_load_role_options(p)
    p.add_argument("--tag", default="x", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.serve_baseline:
        serve_baseline(args.port)
        return 0
    resolve_rounds(args)
    args.max_mails = args.max_mails or (6_000 if args.quick else 30_000)
    if args.load:
        print(json.dumps(asyncio.run(run_load(args))))
        return 0
    return run_in_workdir("bench-smtp-ingest-", args.keep, lambda workdir: Bench(args, workdir).run())


if __name__ == "__main__":
    sys.exit(main())
