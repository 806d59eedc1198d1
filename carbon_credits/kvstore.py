"""Redis access with an in-process fallback, for data that is never authoritative.

Rate limits, replay caches, leaderboards and token denylists use Redis where `REDIS_URL` is set.
Without it (the embedded default) the same calls work on a process-local dictionary; every
authoritative fact also lives in the database.
"""
from __future__ import annotations

import logging
import threading
import time

import redis

log = logging.getLogger(__name__)


class LocalStore:
    """A tiny thread-safe subset of Redis semantics: strings with TTL and sorted sets."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values: dict[str, tuple[str, float | None]] = {}
        self._zsets: dict[str, dict[str, float]] = {}

    def _alive(self, key: str):
        item = self._values.get(key)
        if item and item[1] is not None and item[1] < time.monotonic():
            del self._values[key]
            return None
        return item

    def set(self, key, value, ex=None, nx=False):
        with self._lock:
            if nx and self._alive(key):
                return None
            self._values[key] = (str(value), time.monotonic() + ex if ex else None)
            return True

    def get(self, key):
        with self._lock:
            item = self._alive(key)
            return item[0].encode() if item else None

    def exists(self, *keys):
        with self._lock:
            return sum(1 for k in keys if self._alive(k) or k in self._zsets)

    def delete(self, *keys):
        with self._lock:
            n = 0
            for k in keys:
                n += int(self._values.pop(k, None) is not None)
                n += int(self._zsets.pop(k, None) is not None)
            return n

    def zincrby(self, key, amount, member):
        with self._lock:
            zset = self._zsets.setdefault(key, {})
            zset[member] = zset.get(member, 0) + float(amount)
            return zset[member]

    def zadd(self, key, mapping):
        with self._lock:
            self._zsets.setdefault(key, {}).update({m: float(s) for m, s in mapping.items()})
            return len(mapping)

    def zrevrange(self, key, start, end, withscores=False):
        with self._lock:
            # Redis order: score descending, ties by member descending.
            items = sorted(self._zsets.get(key, {}).items(), key=lambda kv: (kv[1], kv[0]),
                           reverse=True)
            end = len(items) if end == -1 else end + 1
            items = items[start:end]
            return [(m.encode(), s) for m, s in items] if withscores else [m.encode() for m, _ in items]

    def expire(self, key, seconds):
        return True

    def ping(self):
        return True

    def flushdb(self):
        with self._lock:
            self._values.clear()
            self._zsets.clear()


_client = None
_client_url: str | None = None
_lock = threading.Lock()


def configure(redis_url: str | None) -> None:
    """Called once by the app factory."""
    global _client, _client_url
    with _lock:
        if redis_url == _client_url and _client is not None:
            return
        _client_url = redis_url
        if redis_url:
            _client = redis.Redis.from_url(redis_url, socket_timeout=0.5,
                                           socket_connect_timeout=0.5, health_check_interval=30)
        else:
            _client = LocalStore()


def get_store():
    """The Redis client (or the local fallback). Callers handle `redis.RedisError`."""
    if _client is None:
        configure(None)
    return _client


def is_redis() -> bool:
    return isinstance(get_store(), redis.Redis)


RedisError = redis.RedisError
