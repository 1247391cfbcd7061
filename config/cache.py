"""The project's caches: Django's Redis cache (production) and local-memory cache (embedded mode),
each with `admit`, the sliding-window log the request throttles count in (config/throttling.py).

Django keeps a cache object per thread (per request context under ASGI), and its Redis cache
builds a connection pool, and a client, per object: every request then opened a new Redis
connection just to count its throttle (make bench profiled it at about 5% of an order's CPU).
The Redis client, and so its pool, is shared here per server; redis-py's clients are
thread-safe, and its pools reset themselves after a fork.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.commands.core import Script

# A sorted set of the admitted requests' times, scored by time. Atomic in Redis, so concurrent
# requests on any number of processes can never both take the last slot; one round trip.
# Returns nil when admitted, else the time at which enough entries will have left the window
# for one more request.
_ADMIT_LUA = b"""
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
  return false
end
local freeing = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return freeing[2] or ARGV[1]
"""
# Built from bytes, a Script needs no client of its own: each call names the client to use.
_admit_script = Script(None, _ADMIT_LUA)  # type: ignore[arg-type]


def _wait(now: float, window: int, freeing_at: float | None) -> float | None:
    return None if freeing_at is None else max(0.0, freeing_at + window - now)


class _SharedClient(RedisCacheClient):
    # Set by RedisCacheClient.__init__ (not in django-stubs).
    _servers: list[str]
    _client: Callable[..., Any]
    _pool_class: Any
    _pool_options: dict[str, Any]
    _shared_clients: dict[tuple[str, str], Any] = {}
    _shared_lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        shared_key = (self._servers[index], repr(sorted(self._pool_options.items(), key=str)))
        with self._shared_lock:
            client = self._shared_clients.get(shared_key)
            if client is None:
                pool = self._pool_class.from_url(self._servers[index], **self._pool_options)
                client = self._client(connection_pool=pool)
                self._shared_clients[shared_key] = client
        return client

    def _get_connection_pool(self, write: bool) -> Any:
        return self.get_client(write=write).connection_pool


class SharedPoolRedisCache(RedisCache):
    _cache: _SharedClient  # RedisCache's cached property (not in django-stubs)

    def __init__(self, server: str, params: dict[str, Any]):
        super().__init__(server, params)
        self._class = _SharedClient

    def admit(self, key: str, *, now: float, window: int, limit: int) -> float | None:
        """Record a request at `now` in `key`'s log unless it holds `limit` requests of the last
        `window` seconds already. None when admitted; else the seconds until one more would be.
        Refused requests are not recorded."""
        key = self.make_and_validate_key(key)
        client = self._cache.get_client(key, write=True)
        member = f"{now!r}:{secrets.token_hex(6)}"  # unique: several requests share a `now`
        freeing_at = _admit_script(
            keys=[key], args=[repr(now), window, limit, member], client=client
        )
        return _wait(now, window, None if freeing_at is None else float(freeing_at))


class LocalMemoryCache(LocMemCache):
    """Django's local-memory cache with the same `admit` as the Redis cache (embedded mode: one
    process, so a process-wide lock makes the log's read and write one step)."""

    _admit_lock = threading.Lock()

    def admit(self, key: str, *, now: float, window: int, limit: int) -> float | None:
        with self._admit_lock:
            log = [time for time in self.get(key, []) if time > now - window]
            if len(log) < limit:
                self.set(key, sorted([*log, now]), window)
                return None
        return _wait(now, window, log[len(log) - limit] if limit > 0 else now)
