"""Rate limits answered with 429 and ``Retry-After``: one limiter for every route.

The ``limits`` package's moving windows, kept in the database (``storage/rate_hits.py``): every
process of an install counts against one budget and a restart forgets nothing. The rates come
from ``[limits]`` in the configuration, in its notation (``"30/minute"``).
"""

from __future__ import annotations

import math
import time

from aiohttp import web
from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter

from bridgekit.config import LimitsConfig
from bridgekit.storage.db import Database
from bridgekit.storage.rate_hits import DatabaseRateStorage
from bridgekit.web.jsonio import json_error


class RateLimits:
    """The app's limiter (``request.app[RATE_LIMITS]``) and the rates it enforces."""

    def __init__(self, config: LimitsConfig, database: Database) -> None:
        self.link_failures = parse(config.link_failures)
        self.customer_posts = parse(config.customer_posts)
        self.sign_in_failures = parse(config.sign_in_failures)
        self.sign_in_address_failures = parse(config.sign_in_address_failures)
        rates = (
            self.link_failures,
            self.customer_posts,
            self.sign_in_failures,
            self.sign_in_address_failures,
        )
        longest = max(rate.get_expiry() for rate in rates)
        self._limiter = MovingWindowRateLimiter(DatabaseRateStorage(database, longest))

    async def check(self, rate: RateLimitItem, *key: str) -> None:
        """429 when ``key`` has already used all of ``rate``; counts nothing."""
        if not await self._limiter.test(rate, *key):
            raise await self._refusal(rate, key)

    async def spend(self, rate: RateLimitItem, *key: str) -> None:
        """Count one use of ``rate`` by ``key``; 429 when none was left."""
        if not await self._limiter.hit(rate, *key):
            raise await self._refusal(rate, key)

    async def _refusal(self, rate: RateLimitItem, key: tuple[str, ...]) -> web.HTTPException:
        stats = await self._limiter.get_window_stats(rate, *key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        return json_error(
            429,
            f"too many requests; try again in {retry_after} seconds",
            code="rate_limited",
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


RATE_LIMITS = web.AppKey("rate_limits", RateLimits)
