"""Django's Redis cache with one connection pool per server per process.

Django keeps a cache object per thread (per request context under ASGI, where each request's
sync code runs in a new thread), and each object builds its own connection pool: every request
then opened a new Redis connection just to count its throttle (make bench profiled it at about
5% of an order's CPU). The pools are shared here; redis-py's pools reset themselves after a fork.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _SharedPoolClient(RedisCacheClient):
    # Set by RedisCacheClient.__init__ (not in django-stubs).
    _servers: list[str]
    _pool_class: Any
    _pool_options: dict[str, Any]
    _shared_pools: dict[tuple[str, str], Any] = {}
    _shared_lock = threading.Lock()

    def _get_connection_pool(self, write: bool) -> Any:
        index = self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        key = (self._servers[index], repr(sorted(self._pool_options.items(), key=str)))
        with self._shared_lock:
            pool = self._shared_pools.get(key)
            if pool is None:
                pool = self._pool_class.from_url(self._servers[index], **self._pool_options)
                self._shared_pools[key] = pool
        return pool


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]):
        super().__init__(server, params)
        self._class = _SharedPoolClient
