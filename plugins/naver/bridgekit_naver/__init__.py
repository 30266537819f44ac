"""Naver TalkTalk (네이버 톡톡 Chat Bot API) channel for bridgekit.

The plugin object lives in :mod:`bridgekit_naver.plugin`; :mod:`bridgekit_naver.sandbox`
is a local stand-in for TalkTalk that speaks the real wire format, for tests and demos.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
