"""Throttles of the ways in: sign-up and log-in, by the API and by the pages."""

from __future__ import annotations

from config.throttling import AddressRateThrottle


class AuthRateThrottle(AddressRateThrottle):
    """Slows password guessing and sign-up floods, per client address. The API's register and
    token endpoints and the log-in and sign-up forms share one count (rate: the `auth` scope,
    THROTTLE_AUTH_RATE)."""

    scope = "auth"
    methods = frozenset({"POST"})
