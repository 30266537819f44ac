"""Can a string be stored as text in both databases?

PostgreSQL refuses NUL characters in text columns and no driver can encode a lone UTF-16
surrogate (which JSON's ``"\\ud800"`` escape can produce); refusing them up front turns what
would be a 500 into a clear 400.
"""

from __future__ import annotations


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
