"""The Redis store's backend on a Redis Cluster: the same keys, and no multi-key script.

A cluster runs a script only on the keys it is given, all in one hash slot. A record's slot
follows from its handle (all the cookie tells) and an index's from its user, so the two
differ, and the single-node scripts that touch both are split here into single-key steps,
ordered so that a failure between two of them may log a user out but never leaves a live
session that its user's index does not name (which "sign out everywhere" would miss):

- **create**: delete the replaced record first (with ``require_replaced``, its absence
  stops here: no resurrection; a failure after it logs the user out), add the handle to the
  index, then store the new record. 1 round trip, +1 with a replaced record, +1 with a user
  (+1 or 2 to prune entries older than :data:`PRUNE_GRACE`, when the index has any);
- **list**: read the index, then every record's TTL and times in one pipeline (one round
  trip per node, the nodes in parallel): 2 round trips, +1 to prune;
- **delete all**: read the index, delete its records in one pipeline, then remove from the
  index the handles it read: 3 round trips. A session created meanwhile stays indexed.

``find``, ``update`` and ``delete`` touch one record and cost what they cost on one node: one
round trip, atomic. An index entry whose record is absent is removed only once it is older
than :data:`PRUNE_GRACE`: a session being created has its entry added before its record.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sessionkit.exceptions import SessionStoreError
from sessionkit.redis_store import RedisBackend, Script

if TYPE_CHECKING:
    from collections.abc import Awaitable, Mapping

    from redis.asyncio import Redis
    from redis.asyncio.cluster import ClusterPipeline, RedisCluster

__all__ = ["PRUNE_GRACE", "RedisClusterBackend"]

#: Milliseconds an index entry is kept while its record is absent: far longer than the
#: round trips between adding the entry and storing the record can take.
PRUNE_GRACE = 10 * 60 * 1000

# KEYS: new record. ARGV: expires_ms, name/value pairs.
_STORE = Script(
    """
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
"""
)

# KEYS: index. ARGV: now_ms, handle, cutoff_ms. The handles added before the cutoff.
_ADD = Script(
    """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return redis.call('ZRANGE', KEYS[1], '-inf', '(' .. ARGV[3], 'BYSCORE')
"""
)

_META = ("@created", "@deadline", "@seen")


class RedisClusterBackend(RedisBackend):
    """Records in a Redis Cluster, through ``redis.asyncio.cluster.RedisCluster``: a client
    made from ``url`` (any node) per event loop, or the application's own ``client``."""

    def _connect(self, url: str) -> RedisCluster:
        from redis.asyncio.cluster import RedisCluster

        return RedisCluster.from_url(url, **self._socket_options())

    async def _call(self, operation: Awaitable[Any]) -> Any:
        # A RedisCluster that is not initialized (no slot map yet, or one dropped after a
        # failure) breaks connections when many commands start at once (redis 8.1): set it
        # up first, once, under its own lock.
        client: Any = self._client()
        try:
            await super()._call(client.initialize())
        except SessionStoreError:
            close = getattr(operation, "close", None)
            if close is not None:
                close()  # never awaited: not a warning
            raise
        return await super()._call(operation)

    def _pipeline(self) -> ClusterPipeline:
        client: Redis | RedisCluster = self._client()
        return client.pipeline(transaction=False)  # type: ignore[return-value]

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
        client = self._client()
        if replaces is not None:
            deleted = await self._call(client.delete(self._records + replaces))
            if require_replaced and not deleted:
                return False
        if index is not None:
            key = self._indexes + index
            stale = await self._call(_ADD(client, [key], [now_ms, handle, now_ms - PRUNE_GRACE]))
            if stale:
                await self._prune(key, [entry.decode() for entry in stale])
        args: list[Any] = [expires_ms]
        for name, value in fields.items():
            args += (name, value)
        await self._call(_STORE(client, [self._records + handle], args))
        return True

    async def _prune(self, key: str, handles: list[str]) -> None:
        """Remove from the index ``key`` those of ``handles`` (all past the grace) whose
        record is gone."""
        pipe = self._pipeline()
        for handle in handles:
            pipe.exists(self._records + handle)
        found = await self._call(pipe.execute())
        gone = [handle for handle, exists in zip(handles, found, strict=True) if not exists]
        if gone:
            await self._call(self._client().zrem(key, *gone))

    async def _entries(self, key: str) -> list[tuple[str, float]]:
        entries = await self._call(self._client().zrange(key, 0, -1, withscores=True))
        return [(handle.decode(), score) for handle, score in entries]

    async def list_index(self, index: str) -> list[tuple[str, dict[str, bytes], int]]:
        key = self._indexes + index
        entries = await self._entries(key)
        if not entries:
            return []
        pipe = self._pipeline()
        for handle, _ in entries:
            pipe.pttl(self._records + handle)
            pipe.hmget(self._records + handle, _META)
        replies = await self._call(pipe.execute())
        found, stale = [], []
        cutoff = _now_ms() - PRUNE_GRACE
        for (handle, score), ttl, meta in zip(entries, replies[::2], replies[1::2], strict=True):
            if ttl == -2 or not any(meta):  # no record (or it expired between the two)
                if score < cutoff:
                    stale.append(handle)
                continue
            fields = {name: value or b"0" for name, value in zip(_META, meta, strict=True)}
            found.append((handle, fields, ttl))
        if stale:
            await self._call(self._client().zrem(key, *stale))
        return found

    async def delete_index(self, index: str) -> int:
        key = self._indexes + index
        entries = await self._entries(key)
        if not entries:
            return 0
        pipe = self._pipeline()
        for handle, _ in entries:
            pipe.delete(self._records + handle)
        deleted = await self._call(pipe.execute())
        cutoff = _now_ms() - PRUNE_GRACE
        done = [
            handle
            for (handle, score), count in zip(entries, deleted, strict=True)
            if count or score < cutoff
        ]
        if done:
            await self._call(self._client().zrem(key, *done))
        return sum(deleted)


def _now_ms() -> int:
    return int(time.time() * 1000)
