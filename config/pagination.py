"""The API's one paginator (REST_FRAMEWORK's DEFAULT_PAGINATION_CLASS). A module of its own:
DRF imports it while it reads its settings, before anything else of ours is loaded, and
config.api imports DRF's views, which read those settings in turn."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """Every list of the API: `?limit=` (at most 200, default 50) and `?offset=`; the envelope
    holds `count`, `next`, `previous` and `results`. Without a largest limit, a huge one reached
    the database and overflowed its integers (a 500)."""

    default_limit = 50
    max_limit = 200
