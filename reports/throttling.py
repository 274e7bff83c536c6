"""Request-rate limits: per API key, per user, per anonymous client address.

Each limit is a counter per fixed window (a minute for `600/min`) in the default cache, so a
request costs one increment however high the rate: DRF's own throttles keep a list of every
request in the window, which grows with the rate. A client may spend a window's allowance at its
very end and the next one's at the start of the next window; limits are about sustained load.

Counters live in the default cache: Redis when REDIS_URL is set, so every web process counts
against the same limit. If that cache cannot be reached, each process counts in its own memory
for the next SHARED_RETRY_SECONDS and then tries again, with one warning per failure: an outage of
the counters must not become an outage of the API, nor cost a connect timeout per request.

Rates come from settings at each request (not at import), so tests and the benchmark can change
them. A refused request gets 429 with `Retry-After` (seconds), in the API's error format.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import caches
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from .authentication import request_api_key

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SHARED_RETRY_SECONDS = 10.0
# Until when (time.monotonic) this process counts in its own memory after the shared cache failed.
_shared_down_until = 0.0


def parse_rate(rate: str) -> tuple[int, int]:
    """`600/min` -> (600, 60): requests allowed per window, window length in seconds."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period[0]]


class _WindowThrottle(BaseThrottle):
    scope = ""

    def ident_of(self, request) -> object | None:  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        ident = self.ident_of(request)
        if rate is None or ident is None:
            return True
        limit, period = parse_rate(rate)
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self.scope}:{ident}:{window}"
        self.remaining = (window + 1) * period - now
        return self.count_shared(key, timeout=period + 1) <= limit

    @classmethod
    def count_shared(cls, key: str, *, timeout: int) -> int:
        """The count in the shared cache, or in this process's own while the shared one is away."""
        global _shared_down_until
        if time.monotonic() >= _shared_down_until:
            try:
                return cls.count(caches["default"], key, timeout=timeout)
            except Exception as exc:  # whatever the cache backend raises when its server is away
                _shared_down_until = time.monotonic() + SHARED_RETRY_SECONDS
                logger.warning(
                    "Rate limits counted per process for %.0f s: the throttle cache is unreachable: %r",
                    SHARED_RETRY_SECONDS,
                    exc,
                )
        return cls.count(caches["local"], key, timeout=timeout)

    @staticmethod
    def count(cache, key: str, *, timeout: int) -> int:  # type: ignore[no-untyped-def]
        """Add one to the window's counter and return it.

        One increment per request once the window's counter exists; the first request of a window
        creates it (add, so that two first requests do not both start at 1)."""
        try:
            return cache.incr(key)
        except ValueError:
            if cache.add(key, 1, timeout=timeout):
                return 1
            try:
                return cache.incr(key)
            except ValueError:  # expired again in between: start the count over
                cache.set(key, 1, timeout=timeout)
                return 1

    def wait(self) -> float:
        return self.remaining


class ApiKeyRateThrottle(_WindowThrottle):
    scope = "api_key"

    def ident_of(self, request) -> object | None:  # type: ignore[no-untyped-def]
        api_key = request_api_key(request)
        return api_key.pk if api_key is not None else None


class UserRateThrottle(_WindowThrottle):
    scope = "user"

    def ident_of(self, request) -> object | None:  # type: ignore[no-untyped-def]
        if request_api_key(request) is not None or not request.user or not request.user.is_authenticated:
            return None
        return request.user.pk


class AnonRateThrottle(_WindowThrottle):
    scope = "anon"

    def ident_of(self, request) -> object | None:  # type: ignore[no-untyped-def]
        if request.user and request.user.is_authenticated:
            return None
        return self.get_ident(request)
