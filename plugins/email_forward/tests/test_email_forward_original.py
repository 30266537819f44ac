"""The original-mail view (E4, E11): source text and sanitised, sandboxed HTML."""

from __future__ import annotations

from pathlib import Path

from bridgekit_email_forward.original import CSP, render_original, response_headers

MAILS = Path(__file__).parent / "mails"


def load(name: str) -> bytes:
    return (MAILS / name).read_bytes()


def test_e4_html_keeps_tables_and_css_but_no_scripts_or_handlers() -> None:
    view = render_original(load("html_only.eml"), allow_remote_images=False)
    assert "<table" in view.html
    assert "<td" in view.html
    assert 'style="font-weight:bold"' in view.html
    assert "<style>" in view.html
    assert "똠양꿍" in view.html
    for bad in ("<script", "alert(", "onclick", "javascript:"):
        assert bad not in view.html
    assert 'rel="noopener noreferrer nofollow"' in view.html


def test_e4_remote_images_blocked_until_consent_and_cid_images_inlined() -> None:
    blocked = render_original(load("html_only.eml"), allow_remote_images=False)
    assert "tracker.example.net" not in blocked.html
    assert blocked.remote_images_blocked == 1
    assert "data:image/png;base64," in blocked.html  # the cid: logo
    assert "img-src data: cid:;" in blocked.csp
    allowed = render_original(load("html_only.eml"), allow_remote_images=True)
    assert "https://tracker.example.net/open.gif" in allowed.html
    assert "https:" in allowed.csp.split("img-src", 1)[1].split(";", 1)[0]


def test_e4_strict_csp_and_sandbox() -> None:
    view = render_original(load("html_only.eml"), allow_remote_images=False)
    assert view.csp == CSP
    assert CSP.startswith("default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:")
    assert "sandbox" in CSP
    assert "allow-scripts" not in CSP
    headers = response_headers(view)
    assert headers["Content-Security-Policy"] == CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"  # framed by the inbox only
    doc = view.html_document()
    assert doc.startswith("<!doctype html>")
    assert "Content-Security-Policy" in doc
    # the <meta> repeats the policy without what only a header carries (browsers log an error)
    assert "default-src &#x27;none&#x27;" in doc
    assert "frame-ancestors" not in doc
    assert "sandbox" not in doc


def test_e4_source_is_the_raw_mail() -> None:
    raw = load("ko_gmail_utf8.eml")
    view = render_original(raw, allow_remote_images=False)
    assert view.source == raw.decode("utf-8")
    assert "Message-ID: <CAKorea456reply+XyZ=abc@mail.gmail.com>" in view.source


def test_e4_8bit_source_in_a_legacy_charset_is_readable() -> None:
    view = render_original(load("ja_shift_jis_windows.eml"), allow_remote_images=False)
    assert "髙橋です。" in view.source


def test_e11_original_view_says_how_many_attachments_failed_to_load() -> None:
    view = render_original(load("six_attachments.eml"), allow_remote_images=False)
    assert view.attachments_total == 6
    assert view.attachments_not_loaded == 2
    assert view.notice == "2 attachments failed to load"
    assert "2 attachments failed to load" in view.html_document()
    single = render_original(load("ko_outlook_ks_c_5601.eml"), allow_remote_images=False)
    assert single.notice is None


def test_plain_text_mail_is_escaped_in_pre() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: x\r\nMessage-ID: <p.1@example.com>\r\n"
        b"Content-Type: text/plain; charset=UTF-8\r\n\r\n<script>alert(1)</script> & hi\r\n"
    )
    view = render_original(raw, allow_remote_images=False)
    assert "<script>" not in view.html
    assert "&lt;script&gt;" in view.html
