"""Throttles of order entry, per user: placing (`orders` scope, THROTTLE_ORDERS_RATE) and
cancelling (`cancels` scope, THROTTLE_CANCELS_RATE). Reading orders is not throttled."""

from __future__ import annotations

from config.throttling import UserRateThrottle


class OrderPlaceThrottle(UserRateThrottle):
    scope = "orders"
    methods = frozenset({"POST"})


class OrderCancelThrottle(UserRateThrottle):
    scope = "cancels"
    methods = frozenset({"DELETE"})
