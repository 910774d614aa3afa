"""The Redis store's backend: records as Redis hashes, each operation one round trip.

Keys, under the prefix (``sessionkit:`` by default):

- ``PREFIX s:HANDLE``: a session's record, a hash (see :mod:`sessionkit.server_store` for
  its fields), whose TTL is its expiry;
- ``PREFIX u:INDEX``: a user's index, a sorted set of handles scored by creation time. It
  has no TTL: handles whose record expired are pruned when the index is listed, and each
  time the user gets a new session.

Every operation is one command or one Lua script (``EVALSHA``, loaded on first use), so it
takes one round trip and runs atomically; the scripts need nothing newer than Redis 7.0.
(A Redis Cluster splits the multi-key ones: :mod:`sessionkit.redis_cluster_store`.)
A connection pool is made per event loop, lazily, with the configured timeouts (a pool's
connections belong to the loop that opened them).

``timeout`` bounds each round trip as a whole, connecting included, also on the
application's own client (whatever its socket timeouts and retries): a hung or paused server
holds a request for at most that long per trip. Failures raise
:class:`~sessionkit.SessionStoreError`, whose message never holds the URL or its password.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from typing import TYPE_CHECKING, Any

from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from sessionkit._trip_timer import TripTimer
from sessionkit.exceptions import SessionStoreError
from sessionkit.server_store import DEADLINE, Backend

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable, Mapping

    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

__all__ = ["SCRIPTS", "RedisBackend", "Script"]

# KEYS: record. ARGV: now_ms, idle_ms. The record's fields, its expiry renewed (the earlier of
# now + idle and its deadline, read from the fields fetched); or nil.
_FIND = f"""
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return false end
local now = tonumber(ARGV[1])
local expires = now + tonumber(ARGV[2])
for i = 1, #fields, 2 do
  if fields[i] == '{DEADLINE}' then
    local deadline = tonumber(fields[i + 1])
    if deadline > 0 and deadline < expires then expires = deadline end
    break
  end
end
if expires <= now then return false end
redis.call('PEXPIREAT', KEYS[1], expires)
return fields
"""

# KEYS: record. ARGV: expires_ms, count of pairs, name/value pairs, deleted names.
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local pairs_end = 2 + 2 * tonumber(ARGV[2])
if pairs_end > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3, pairs_end)) end
if #ARGV > pairs_end then redis.call('HDEL', KEYS[1], unpack(ARGV, pairs_end + 1)) end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
"""

# KEYS: new record, then the replaced record and the index, each only if there is one (an
# empty key name would fail a Redis ACL that allows only the prefix). ARGV: now_ms,
# expires_ms, require_replaced ('1' or '0'), handle, record key prefix, whether there is a
# replaced record ('1' or '0'), whether there is an index ('1' or '0'), name/value pairs.
_CREATE = """
local next_key = 2
if ARGV[6] == '1' then
  if redis.call('DEL', KEYS[next_key]) == 0 and ARGV[3] == '1' then return 0 end
  next_key = next_key + 1
end
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
if ARGV[7] == '1' then
  local index = KEYS[next_key]
  for _, handle in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    if redis.call('EXISTS', ARGV[5] .. handle) == 0 then redis.call('ZREM', index, handle) end
  end
  redis.call('ZADD', index, ARGV[1], ARGV[4])
end
return 1
"""

# KEYS: index. ARGV: record key prefix. {handle, ttl_ms, @created, @deadline, @seen} each.
_LIST = """
local found = {}
for _, handle in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[1] .. handle
  local ttl = redis.call('PTTL', key)
  if ttl == -2 then
    redis.call('ZREM', KEYS[1], handle)
  else
    local meta = redis.call('HMGET', key, '@created', '@deadline', '@seen')
    found[#found + 1] = {handle, ttl, meta[1] or '0', meta[2] or '0', meta[3] or '0'}
  end
end
return found
"""

# KEYS: index. ARGV: record key prefix. How many records were deleted.
_DELETE_INDEX = """
local count = 0
for _, handle in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  count = count + redis.call('DEL', ARGV[1] .. handle)
end
redis.call('DEL', KEYS[1])
return count
"""


class Script:
    """A Lua script run by its SHA-1 (``EVALSHA``), loaded when the server lacks it."""

    def __init__(self, source: str) -> None:
        self.source: str = source
        self.sha: str = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, client: Redis | RedisCluster, keys: list[str], args: list[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.source, len(keys), *keys, *args)


SCRIPTS = {
    name: Script(source)
    for name, source in {
        "find": _FIND,
        "update": _UPDATE,
        "create": _CREATE,
        "list": _LIST,
        "delete_index": _DELETE_INDEX,
    }.items()
}


class RedisBackend(Backend):
    """Records in Redis, through ``redis.asyncio``: a client made from ``url`` per event loop,
    or the application's own ``client`` (whose pool it then shares and never closes)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | RedisCluster | None = None,
        prefix: str = "sessionkit:",
        timeout: float = 2.0,
    ) -> None:
        if (url is None) == (client is None):
            raise ValueError("RedisBackend takes a url or a client")
        self._url = url
        self._own_client = client
        self._timeout = timeout
        self._trips = TripTimer(timeout)
        self._records = prefix + "s:"
        self._indexes = prefix + "u:"
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, Redis | RedisCluster
        ] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:  # never the URL: it may hold a password
        return f"{type(self).__name__}(prefix={self._records[:-2]!r})"

    def _client(self) -> Redis | RedisCluster:
        if self._own_client is not None:
            return self._own_client
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            assert self._url is not None  # noqa: S101 - one of the two is set
            client = self._connect(self._url)
            self._clients[loop] = client
        return client

    def _connect(self, url: str) -> Redis | RedisCluster:
        """A client for ``url`` (it retries no command: redis-py's default; a pooled
        connection that a restart of Redis closed is replaced when next taken)."""
        from redis.asyncio import Redis

        return Redis.from_url(url, **self._socket_options())

    def _socket_options(self) -> dict[str, Any]:
        """The timeouts of the clients made here. The whole trip is bounded by :meth:`_call`,
        so the sockets get none of their own on reads and writes: redis-py would wrap each
        write in a task of its own to time it, a fifth of a round trip on loopback. (redis-py
        closes a connection whose trip was cut short, so no late reply reaches the next
        command.)"""
        return {"socket_timeout": None, "socket_connect_timeout": self._timeout}

    def _run(self, script: str, keys: list[str], args: list[Any]) -> Awaitable[Any]:
        """:meth:`_call` running ``script`` on this loop's client (a plain function: one
        coroutine less per trip)."""
        return self._call(SCRIPTS[script](self._client(), keys, args))

    async def _call(self, operation: Awaitable[Any]) -> Any:
        """One round trip, bounded by the timeout; any failure a :class:`SessionStoreError`."""
        try:
            with self._trips.trip():
                return await operation
        except TimeoutError:
            message = f"the Redis session store did not answer within {self._timeout} s"
        except (RedisError, RedisClusterException, OSError) as exc:
            message = f"the Redis session store failed ({type(exc).__name__}: {exc})"
        except Exception as exc:  # a client's undocumented failure: no 500 either
            message = f"the Redis client failed unexpectedly ({type(exc).__name__}: {exc})"
        raise SessionStoreError(message)  # outside the except block: no chained cause

    async def find(self, handle: str, now_ms: int, idle_ms: int) -> dict[str, bytes] | None:
        found = await self._run("find", [self._records + handle], [now_ms, idle_ms])
        if not found:
            return None
        return {found[i].decode(): found[i + 1] for i in range(0, len(found), 2)}

    async def update(
        self, handle: str, expires_ms: int, fields: Mapping[str, bytes], deleted: Iterable[str]
    ) -> bool:
        args: list[Any] = [expires_ms, len(fields)]
        for name, value in fields.items():
            args += (name, value)
        args += deleted
        return bool(await self._run("update", [self._records + handle], args))

    async def create(
        self,
        handle: str,
        now_ms: int,
        expires_ms: int,
        fields: Mapping[str, bytes],
        index: str | None,
        replaces: str | None,
        require_replaced: bool,
    ) -> bool:
        keys = [self._records + handle]
        if replaces is not None:
            keys.append(self._records + replaces)
        if index is not None:
            keys.append(self._indexes + index)
        args: list[Any] = [now_ms, expires_ms, int(require_replaced), handle, self._records]
        args += (int(replaces is not None), int(index is not None))
        for name, value in fields.items():
            args += (name, value)
        return bool(await self._run("create", keys, args))

    async def delete(self, handle: str) -> bool:
        return bool(await self._call(self._client().delete(self._records + handle)))

    async def list_index(self, index: str) -> list[tuple[str, dict[str, bytes], int]]:
        found = await self._run("list", [self._indexes + index], [self._records])
        return [
            (handle.decode(), {"@created": created, "@deadline": deadline, "@seen": seen}, ttl)
            for handle, ttl, created, deadline, seen in found
        ]

    async def delete_index(self, index: str) -> int:
        return int(await self._run("delete_index", [self._indexes + index], [self._records]))

    async def aclose(self) -> None:
        """Close the pool of the running event loop (never the application's own client)."""
        if self._own_client is not None:
            return
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
