"""bridgekit email-forward channel: forwarded mail in, SMTP replies out (SPEC E1-E13)."""

from __future__ import annotations

__version__ = "0.1.0"
