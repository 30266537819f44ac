"""The original-mail view (E4): raw source and safely rendered HTML.

The HTML is sanitised with nh3 (ammonia): no scripts, event handlers, forms, frames or
``javascript:`` links, while tables, inline styles and ``<style>`` blocks stay so the mail
looks as it does in a mail client. Inline ``cid:`` images become ``data:`` URIs; remote
images are blocked unless the manager consents. The page is meant for an
``<iframe sandbox>`` and is served with :data:`CSP`, which forbids every fetch the
sanitiser might have missed (CSS ``url()``, fonts, ``@import``).
"""

from __future__ import annotations

import base64
import html as html_lib
import re
from dataclasses import dataclass

import nh3

from bridgekit_email_forward.charsets import decode_bytes
from bridgekit_email_forward.parse import ParsedMail, count_files, parse_mail

INBOUND_ATTACHMENT_LIMIT = 4

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:; font-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)
CSP_REMOTE_IMAGES = CSP.replace("img-src data: cid:", "img-src data: cid: https: http:")

_TAGS = set(nh3.ALLOWED_TAGS) | {
    "style", "font", "center", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "col",
    "colgroup", "caption", "img", "span", "div", "p", "br", "hr", "u", "s", "small", "big",
}  # fmt: skip
_TABLE_ATTRS = {
    "width",
    "height",
    "align",
    "valign",
    "bgcolor",
    "border",
    "cellpadding",
    "cellspacing",
    "colspan",
    "rowspan",
}
_ATTRIBUTES: dict[str, set[str]] = {tag: set(v) for tag, v in nh3.ALLOWED_ATTRIBUTES.items()}
_ATTRIBUTES["*"] = {"style", "class", "dir", "lang", "title", "align"}
for _tag in ("table", "tr", "td", "th", "col", "colgroup", "tbody", "thead", "tfoot"):
    _ATTRIBUTES.setdefault(_tag, set()).update(_TABLE_ATTRS)
_ATTRIBUTES.setdefault("img", set()).update({"src", "alt", "width", "height", "border"})
_ATTRIBUTES.setdefault("font", set()).update({"color", "face", "size"})
_ATTRIBUTES.setdefault("a", set()).update({"href", "title"})

_SRC = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_CSS_URL = re.compile(r"url\(\s*(['\"]?)(?!data:)[^)]*\1\s*\)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class OriginalView:
    """Everything the original-view page shows."""

    source: str
    html: str
    csp: str
    attachments_total: int
    attachments_not_loaded: int
    remote_images_blocked: int
    notice: str | None

    def html_document(self) -> str:
        """A complete page for the sandboxed iframe (serve with ``Content-Security-Policy: csp``).

        The page repeats the policy in a ``<meta>`` (it still holds if the page is saved and
        opened from disk), without the directives only a header can carry: browsers ignore
        ``frame-ancestors`` and ``sandbox`` there and log an error for each."""
        banner = f'<p class="bk-notice">{html_lib.escape(self.notice)}</p>' if self.notice else ""
        return (
            '<!doctype html><html><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{html_lib.escape(meta_policy(self.csp))}">'
            f"</head><body>{banner}{self.html}</body></html>"
        )


_HEADER_ONLY = ("frame-ancestors", "sandbox", "report-uri")


def meta_policy(csp: str) -> str:
    """``csp`` without the directives a ``<meta>`` element cannot carry."""
    kept = (d.strip() for d in csp.split(";"))
    return "; ".join(d for d in kept if d and d.split()[0] not in _HEADER_ONLY)


def not_loaded_notice(count: int) -> str | None:
    """E11's line for the original view."""
    if count <= 0:
        return None
    return f"{count} attachment{'s' if count != 1 else ''} failed to load"


def _source_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return decode_bytes(raw, None)


def _inline_cids(mail: ParsedMail, markup: str) -> str:
    for att in mail.attachments:
        if att.content_id and att.content_type.startswith("image/") and att.data:
            uri = f"data:{att.content_type};base64,{base64.b64encode(att.data).decode()}"
            markup = re.sub(rf"cid:{re.escape(att.content_id)}(?=[\"'\s>])", uri, markup, flags=re.IGNORECASE)
    return markup


def render_original(raw: bytes, *, allow_remote_images: bool) -> OriginalView:
    """Source text and sanitised HTML of one stored raw mail (E4, E11)."""
    mail = parse_mail(raw)
    files = count_files(mail)
    loaded = sum(1 for f in files[:INBOUND_ATTACHMENT_LIMIT] if f.loadable)
    not_loaded = len(files) - loaded
    if mail.html is not None:
        markup = _inline_cids(mail, mail.html)
    else:
        markup = f'<pre style="white-space:pre-wrap">{html_lib.escape(mail.text)}</pre>'
    clean = nh3.clean(
        markup,
        tags=_TAGS,
        clean_content_tags={"script", "title", "head"} - _TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel", "data", "cid"},
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
    blocked = 0
    if not allow_remote_images:

        def block(match: re.Match[str]) -> str:
            nonlocal blocked
            src = match.group(3).strip()
            if src.lower().startswith(("data:", "cid:")):
                return match.group(0)
            blocked += 1
            return f'{match.group(1)}{match.group(2)}{match.group(2)} data-bk-blocked="remote image"'

        clean = _SRC.sub(block, clean)
        # Remote CSS backgrounds are also blocked by the CSP; drop them so nothing tries.
        clean = _CSS_URL.sub("none", clean)
    return OriginalView(
        source=_source_text(raw),
        html=clean,
        csp=CSP_REMOTE_IMAGES if allow_remote_images else CSP,
        attachments_total=len(files),
        attachments_not_loaded=not_loaded,
        remote_images_blocked=blocked,
        notice=not_loaded_notice(not_loaded),
    )


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    # Framed only by the inbox's own pages (CSP frame-ancestors 'self'; this for older browsers).
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "private, no-store",  # a customer's mail: never kept by a shared cache
}


def response_headers(view: OriginalView) -> dict[str, str]:
    """Headers to serve :meth:`OriginalView.html_document` with."""
    return {"Content-Security-Policy": view.csp, **SECURITY_HEADERS}
