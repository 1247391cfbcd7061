"""Request throttles: DRF's throttle classes, counted in Django's cache (Redis in production,
so every web process shares the counts; process memory in embedded mode).

Each scope allows its rate's number of requests in any sliding window of the rate's period (DRF's
meaning of a rate). The cache keeps the admitted requests' times (`admit`, config/cache.py): in
Redis one atomic script, one round trip, so that requests racing on several processes never both
take the last slot. DRF's own throttle reads the list of times, then writes it back: two round
trips, a pickled list as long as the rate, and concurrent requests losing each other's counts.

Rates are `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]`, read on every request: DRF's own
throttles read them once, at import, so a changed setting would never reach them. A refused
request is answered 429 with `Retry-After` (the seconds until one more request would be
admitted) and the usual `{"code", "detail", "fields"}` body (config/api.py); a page checks with
`throttle_wait` and answers the same way.

When the cache does not answer (Redis down), a throttle lets the request through and logs it:
the throttles only slow clients down, the books are kept by the database and the market's rules,
and trading must go on without Redis (docs/hardening.md).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


class SettingsRateThrottle(SimpleRateThrottle):
    """A throttle for one scope, applied to the HTTP methods in `methods` (all when empty)."""

    methods: frozenset[str] = frozenset()
    # Not DRF's key: its list of times under the same key would make the log's script fail
    # (and the throttle let requests through) for a window after an upgrade.
    cache_format = "throttle_log_%(scope)s_%(ident)s"
    # Set by SimpleRateThrottle.__init__ from the rate (not in the type stubs).
    num_requests: int
    duration: int

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES
        if self.scope not in rates:
            raise ImproperlyConfigured(f"No throttle rate for the scope {self.scope!r}.")
        rate = rates[self.scope]
        return None if rate is None else str(rate)

    def allow_request(self, request: Any, view: Any) -> bool:
        self.wait_seconds: float | None = None
        if self.rate is None or (self.methods and request.method not in self.methods):
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        admit = getattr(self.cache, "admit", None)
        if admit is None:
            raise ImproperlyConfigured(
                "The throttles need a cache with `admit`: config.cache.SharedPoolRedisCache or "
                "config.cache.LocalMemoryCache."
            )
        try:
            self.wait_seconds = admit(
                key, now=self.timer(), window=self.duration, limit=self.num_requests
            )
        except (RedisError, OSError):
            logger.warning("throttle %s: the cache is unavailable; not throttling", self.scope)
            return True
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return self.wait_seconds


class UserRateThrottle(SettingsRateThrottle):
    """Counted per signed-in user (per client address for anyone else)."""

    def get_cache_key(self, request: Any, view: Any) -> str:
        user = getattr(request, "user", None)
        ident = user.pk if user is not None and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AddressRateThrottle(SettingsRateThrottle):
    """Counted per client address, whoever is signed in."""

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def throttle_wait(throttle: SettingsRateThrottle, request: HttpRequest) -> int | None:
    """For a page view: None when `request` may go on, else the seconds to wait (at least 1)."""
    if throttle.allow_request(request, None):
        return None
    wait = throttle.wait()
    return max(1, int(wait + 0.999)) if wait is not None else 1
