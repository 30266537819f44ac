"""Plain text from an HTML-only mail part, for the chat (the original view keeps the HTML)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCK = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "hr", "section", "article", "header", "footer", "dd", "dt",
}  # fmt: skip
_SKIP = {"style", "script", "head", "title", "template"}


class _TextExtractor(HTMLParser):
    """Collects visible text; block elements become line breaks.

    Quoted history is dropped at the source where mailers mark it: Gmail's
    ``div.gmail_quote``, Outlook's ``div#divRplyFwdMsg`` / ``#appendonsend`` and any
    ``blockquote type=cite``. Everything after such a marker is history.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self.quote_found = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.quote_found:
            return
        values = {k: (v or "") for k, v in attrs}
        classes = values.get("class", "").split()
        if (
            "gmail_quote" in classes
            or values.get("id") in ("divRplyFwdMsg", "appendonsend")
            or (tag == "blockquote" and values.get("type") == "cite")
        ):
            self.quote_found = True
            return
        if tag in _SKIP:
            self._skip_depth += 1
        elif tag in ("td", "th"):
            self.parts.append("\t")
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self._skip_depth:
            self._skip_depth -= 1
        elif tag in _BLOCK and not self.quote_found:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth and not self.quote_found:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Readable text of ``markup`` without the quoted history marked up by the mailer."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = html.unescape("".join(parser.parts)).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
