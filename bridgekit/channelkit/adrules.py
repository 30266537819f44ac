"""Korean advertising rules every channel that sends ads shares (SMS, Kakao brand messages).

Korean law (정보통신망법 제50조) wants an advertisement to start with ``(광고)`` and forbids
sending one at night without the recipient's separate consent; each service sets its own
night: SMS 21:00 to 08:00, Kakao brand messages 20:50 to 08:00 (Kakao stops them at 20:50 so
that none lands after 21:00). One place decides what "at night in Korea" means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

KST = timezone(timedelta(hours=9), "KST")
#: The marker an advertisement must start with.
AD_PREFIX = "(광고)"


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A night in Korean time, from ``starts`` to ``ends`` the next morning."""

    starts: time
    ends: time

    def covers(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls in these hours, in Korea."""
        local = moment.astimezone(KST).time()
        return local >= self.starts or local < self.ends

    def describe(self) -> str:
        return f"{self.starts:%H:%M} to {self.ends:%H:%M} KST"


def is_ad(text: str) -> bool:
    """Whether ``text`` carries the advertising marker at its start."""
    return text.lstrip().startswith(AD_PREFIX)


def marked_ad(text: str) -> str:
    """``text`` starting with ``(광고)``: added when the author left it out."""
    body = text.strip()
    return body if body.startswith(AD_PREFIX) else f"{AD_PREFIX} {body}"


__all__ = ["AD_PREFIX", "KST", "QuietHours", "is_ad", "marked_ad"]
