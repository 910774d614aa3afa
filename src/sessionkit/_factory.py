"""Building the store that settings describe (kept apart so settings need not import it)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sessionkit.cookie_store import CookieStore
from sessionkit.exceptions import SessionConfigError
from sessionkit.memory_store import MemoryBackend
from sessionkit.server_store import Backend, ServerStore

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

    from sessionkit.settings import SessionSettings

logger = logging.getLogger("sessionkit")


def make_store(
    settings: SessionSettings, redis: Redis | RedisCluster | None = None
) -> CookieStore | ServerStore:
    """The store of ``settings``; ``redis``, the application's own client for the Redis store.

    Raises :class:`SessionConfigError` for what only building it can find: the Redis store
    without a URL or a client, or without the ``redis`` package, or ``redis_cluster`` with a
    client that is not a ``RedisCluster``. A ``RedisCluster`` client selects the cluster
    backend by itself.
    """
    where = settings.where
    if redis is not None and settings.store != "redis":
        raise SessionConfigError(
            [
                f"a Redis client was given, but {where('store')} is {settings.store!r}; "
                f"set SESSION_STORE=redis (store='redis') to keep sessions in Redis"
            ]
        )
    if settings.store == "cookie":
        return CookieStore(settings)
    if settings.store == "memory":
        logger.warning(
            "sessionkit: the memory session store keeps sessions in this process only: "
            "other worker processes do not see them, and a restart loses them. Use it for "
            "development and tests; use SESSION_STORE=redis in production."
        )
        return ServerStore(settings, MemoryBackend())
    return ServerStore(settings, _redis_backend(settings, redis))


def _redis_backend(settings: SessionSettings, client: Redis | RedisCluster | None) -> Backend:
    try:
        from redis.asyncio.cluster import RedisCluster

        from sessionkit.redis_cluster_store import RedisClusterBackend
        from sessionkit.redis_store import RedisBackend
    except ImportError:
        raise SessionConfigError(
            [
                f"{settings.where('store')} is 'redis', but the redis package is not "
                f"installed; install sessionkit with its Redis extra: "
                f"pip install 'sessionkit[redis]'"
            ]
        ) from None
    if client is None and settings.redis_url is None:
        raise SessionConfigError(
            [
                f"{settings.where('store')} is 'redis' but {settings.where('redis_url')} is not "
                f"set; set SESSION_REDIS_URL=redis://HOST:6379/0 (or pass your own client: "
                f"settings.middleware(redis=client))"
            ]
        )
    cluster = isinstance(client, RedisCluster) if client is not None else settings.redis_cluster
    if settings.redis_cluster and not cluster:
        raise SessionConfigError(
            [
                f"{settings.where('redis_cluster')} is True, but the Redis client given is a "
                f"{type(client).__qualname__}, which cannot follow a cluster's slots; pass a "
                f"redis.asyncio.cluster.RedisCluster (or set SESSION_REDIS_CLUSTER=false)"
            ]
        )
    url = None if client is not None or settings.redis_url is None else settings.redis_url
    backend = RedisClusterBackend if cluster else RedisBackend
    return backend(
        None if url is None else url.get_secret_value(),
        client=client,
        prefix=settings.redis_prefix,
        timeout=settings.redis_timeout,
    )
