"""What a provider counts its text limit in.

Providers count differently: LINE and Naver TalkTalk in UTF-16 code units (their servers are
Java; an emoji outside the BMP counts twice), Instagram in UTF-8 bytes, Korean SMS gateways in
bytes of EUC-KR/CP949, others in characters. A channel declares its unit in
``Capabilities.text_unit``; the core checks replies with it and the toolkit's ``split_text``
cuts with it, so both count the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class TextUnit:
    """A unit of text length: ``measure(text)`` is ``text``'s length in it; ``name`` says it
    in an error message ("bytes of CP949")."""

    name: str
    kind: Literal["utf16", "chars", "bytes"]
    charset: str = ""  # for ``kind == "bytes"``

    def measure(self, text: str) -> int:
        if self.kind == "utf16":
            return len(text.encode("utf-16-le", "surrogatepass")) // 2
        if self.kind == "bytes":
            # What the charset cannot encode counts as the "?" a gateway puts there; refuse
            # such text before measuring where that is not acceptable.
            return len(text.encode(self.charset, "replace"))
        return len(text)


UTF16_UNITS = TextUnit("characters (UTF-16 code units: an emoji counts 2)", "utf16")
"""Java/JavaScript string length: LINE, Naver TalkTalk."""

CHARACTERS = TextUnit("characters", "chars")
"""Unicode code points."""


def bytes_in(charset: str) -> TextUnit:
    """Bytes of the text encoded in ``charset`` (``"utf-8"``, ``"cp949"``...)."""
    return TextUnit(f"bytes of {charset.upper()}", "bytes", charset)


UTF8_BYTES = bytes_in("utf-8")
"""UTF-8 bytes: Instagram and the Meta platform."""


def text_length(text: str, unit: TextUnit) -> int:
    """``text``'s length as a provider counting in ``unit`` sees it."""
    return unit.measure(text)
