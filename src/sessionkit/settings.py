"""``SessionSettings``: every session option, read from the environment and validated at startup.

Values come from, highest priority first: explicit values (``sessions_config``), environment
variables, a ``.env`` file, then the defaults (pass ``_secrets_dir=`` to read a secrets
directory too, as pydantic-settings allows). Anything browsers would
silently reject is a :class:`~sessionkit.SessionConfigError` at construction; anything legal but
risky is a :class:`~sessionkit.SessionConfigWarning`.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode
from starlette.datastructures import Secret

from sessionkit._config import DeclaredSettings, split_list
from sessionkit._config import env_var as _env_var
from sessionkit._settings_rules import GENERATE_KEY_HINT, problems, warn_about_risks
from sessionkit.exceptions import SessionConfigError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster
    from starlette.middleware import Middleware

    from sessionkit.store import SessionStore

__all__ = ["SessionSettings"]


class SessionSettings(DeclaredSettings):
    """Every option of the session cookie, with its environment variable.

    Build it from the environment with ``SessionSettings()``, or merge an explicit
    mapping over the environment with :meth:`from_config`.
    """

    config_kind: ClassVar[str] = "session"
    config_mapping: ClassVar[str] = "sessions_config"
    config_fixes: ClassVar[Mapping[str, str]] = {
        "secret_key": "set the SECRET_KEY environment variable or the secret_key config item; "
        f"{GENERATE_KEY_HINT}",
        "secret_key_fallbacks": "give old keys as a comma-separated list or a JSON list of strings",
        "max_age": "give a whole number of seconds, or leave it empty / 'none' for a "
        "browser-session cookie",
        "same_site": "use one of 'lax', 'strict' or 'none'",
        "https_only": "use true or false",
        "partitioned": "use true or false",
        "compress": "use true or false",
        "read_starlette_cookies": "use true or false",
        "store": "use one of 'cookie', 'memory' or 'redis'",
        "redis_url": "give a URL like redis://127.0.0.1:6379/0 (rediss:// for TLS, unix:// "
        "for a socket)",
        "redis_cluster": "use true or false",
        "redis_timeout": "give a number of seconds, e.g. 2 or 0.5",
        "redis_unavailable": "use 'fail' (a 503) or 'empty' (an empty, read-only session)",
        "refresh_after": "give a whole number of seconds, or leave it empty for half of max_age",
        "absolute_lifetime": "give a whole number of seconds, or leave it empty for no limit",
        "encrypt": "use true or false",
    }

    secret_key: SecretStr = Field(
        validation_alias="SECRET_KEY",
        description="The key that signs session cookies. Keep it secret; at least 32 random "
        "bytes (`python -m sessionkit generate-key`).",
    )
    secret_key_fallbacks: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        validation_alias="SECRET_KEY_FALLBACKS",
        description="Previous keys, still accepted when reading cookies so that rotating "
        "the key logs nobody out. Comma-separated or a JSON list in the environment.",
    )
    session_cookie: str = Field(
        default="session",
        validation_alias="SESSION_COOKIE",
        description="The cookie's name. `__Host-` and `__Secure-` prefixes are checked.",
    )
    max_age: int | None = Field(
        default=14 * 24 * 60 * 60,
        validation_alias="SESSION_MAX_AGE",
        description="Seconds a session lives after it was last issued, enforced by the "
        "server and sent as Max-Age. None makes a browser-session cookie.",
    )
    path: str = Field(
        default="/",
        validation_alias="SESSION_PATH",
        description="The cookie's Path attribute.",
    )
    domain: str | None = Field(
        default=None,
        validation_alias="SESSION_DOMAIN",
        description="The cookie's Domain attribute; None keeps the cookie on the exact host.",
    )
    same_site: Literal["lax", "strict", "none"] = Field(
        default="lax",
        validation_alias="SESSION_SAME_SITE",
        description="The cookie's SameSite attribute. 'none' requires https_only.",
    )
    https_only: bool = Field(
        default=False,
        validation_alias="SESSION_HTTPS_ONLY",
        description="Send the cookie over HTTPS only (the Secure attribute).",
    )
    partitioned: bool = Field(
        default=False,
        validation_alias="SESSION_PARTITIONED",
        description="The Partitioned attribute (CHIPS), for embedded cross-site use. "
        "Requires https_only.",
    )

    refresh_after: int | None = Field(
        default=None,
        validation_alias="SESSION_REFRESH_AFTER",
        description="Seconds after signing when a used session is re-issued with a fresh "
        "Max-Age (sliding expiry). None means half of max_age.",
    )
    absolute_lifetime: int | None = Field(
        default=None,
        validation_alias="SESSION_ABSOLUTE_LIFETIME",
        description="Seconds after a session was first created when it ends, however often "
        "it was re-issued. None (the default) sets no such limit.",
    )
    compress: bool = Field(
        default=False,
        validation_alias="SESSION_COMPRESS",
        description="Compress the cookie with zlib when that makes it shorter.",
    )
    read_starlette_cookies: bool = Field(
        default=True,
        validation_alias="SESSION_READ_STARLETTE_COOKIES",
        description="Accept cookies in Starlette's SessionMiddleware format (re-issued in "
        "sessionkit's on use). Turn it off once max_age has passed since switching: any "
        "code that signs with the same key and itsdangerous's defaults mints such cookies.",
    )
    encrypt: bool = Field(
        default=False,
        validation_alias="SESSION_ENCRYPT",
        description="Seal cookie sessions with AES-256-GCM, so that their content cannot be "
        "read, only their length. Needs the sessionkit[encryption] extra; signed cookies are "
        "still read, and re-issued sealed.",
    )

    store: Literal["cookie", "memory", "redis"] = Field(
        default="cookie",
        validation_alias="SESSION_STORE",
        description="Where session data lives: in the signed cookie ('cookie'), or on the "
        "server with only a signed session id in the cookie: 'redis', or 'memory' (one "
        "process only, for development and tests).",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        validation_alias="SESSION_REDIS_URL",
        description="The Redis server of store='redis': redis://, rediss:// (TLS) or "
        "unix:// URL, e.g. redis://127.0.0.1:6379/0. Kept secret: it may hold a password.",
    )
    redis_cluster: bool = Field(
        default=False,
        validation_alias="SESSION_REDIS_CLUSTER",
        description="redis_url names a node of a Redis Cluster (any node: the others are "
        "found from it).",
    )
    redis_prefix: str = Field(
        default="sessionkit:",
        validation_alias="SESSION_REDIS_PREFIX",
        description="The prefix of every Redis key the store writes.",
    )
    redis_timeout: float = Field(
        default=2.0,
        validation_alias="SESSION_REDIS_TIMEOUT",
        description="Seconds a Redis connection or command may take before the request is "
        "answered without its session (503).",
    )
    redis_unavailable: Literal["fail", "empty"] = Field(
        default="fail",
        validation_alias="SESSION_REDIS_UNAVAILABLE",
        description="What a request whose session cannot be read from Redis gets: 'fail', a "
        "503 once it uses the session; or 'empty', an empty session it may read but not "
        "change (a change is a 503), and a warning.",
    )
    user_key: str | None = Field(
        default="user_id",
        validation_alias="SESSION_USER_KEY",
        description="The session entry that names the signed-in user: server-side stores "
        "index sessions by it (list_user, revoke_user) and give the session a new id when "
        "it changes. None: no user index.",
    )

    def config_problems(self) -> list[str]:
        return problems(self)

    def config_warnings(self) -> None:
        warn_about_risks(self)

    def __init__(self, **values: Any) -> None:
        # Explicit values go by field name (the pydantic plugin would type them by alias).
        super().__init__(**values)

    @classmethod
    def from_config(cls, sessions_config: Mapping[str, Any] | None = None) -> SessionSettings:
        """Settings from the environment, with ``sessions_config`` merged over it.

        Explicit values win. ``None`` (or no argument) reads the environment only. The
        mapping is not modified; an unknown key is a :class:`SessionConfigError`.
        """
        return cls(**dict(sessions_config or {}))

    def middleware(self, *, redis: Redis | RedisCluster | None = None) -> Middleware:
        """A ``Middleware`` entry for ``Starlette(middleware=[...])`` or ``FastAPI(...)``.

        ``redis``: the application's own ``redis.asyncio`` client (a ``RedisCluster`` for a
        cluster), whose pool the Redis store then shares (``store`` must be ``"redis"``;
        ``redis_url`` is not needed).
        """
        from starlette.middleware import Middleware

        from sessionkit.middleware import SessionMiddleware

        if redis is None:
            return Middleware(SessionMiddleware, settings=self)
        return Middleware(SessionMiddleware, settings=self, redis=redis)

    @asynccontextmanager
    async def open_store(
        self, *, redis: Redis | RedisCluster | None = None
    ) -> AsyncIterator[SessionStore]:
        """The Redis store these settings describe, for scripts and admin tasks::

            async with SessionSettings().open_store() as store:
                await store.revoke_user(42)

        Its connections are closed on exit. The memory store lives inside the app's process,
        and the cookie store keeps no records, so both are refused here.
        """
        from sessionkit._factory import make_store

        if self.store != "redis":
            raise SessionConfigError(
                [
                    f"{self.where('store')} is {self.store!r}, but open_store() needs the Redis "
                    f"store: the {self.store} store's sessions are not reachable from another "
                    f"process; set SESSION_STORE=redis and SESSION_REDIS_URL"
                ]
            )
        store = make_store(self, redis)
        try:
            yield store
        finally:
            await store.aclose()

    def signing_keys(self) -> list[str]:
        """The current key followed by the fallbacks, unwrapped: for building signers only."""
        return [
            self.secret_key.get_secret_value(),
            *(key.get_secret_value() for key in self.secret_key_fallbacks),
        ]

    @field_validator("secret_key", mode="before")
    @classmethod
    def _unwrap_starlette_secret(cls, value: object) -> object:
        return _unwrap_secret(value)

    @field_validator("secret_key_fallbacks", mode="before")
    @classmethod
    def _split_fallbacks(cls, value: object) -> object:
        value = split_list(value)
        return [_unwrap_secret(key) for key in value] if isinstance(value, list) else value

    @property
    def refresh_interval(self) -> int | None:
        """Seconds after signing when a used session is re-issued; ``None``: never."""
        if self.refresh_after is not None:
            return self.refresh_after
        return None if self.max_age is None else max(self.max_age // 2, 0)

    @field_validator(
        "max_age",
        "domain",
        "refresh_after",
        "absolute_lifetime",
        "redis_url",
        "user_key",
        mode="before",
    )
    @classmethod
    def _none_from_text(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in {"", "none", "null"}:
            return None
        return value

    @field_validator("same_site", mode="before")
    @classmethod
    def _lower_same_site(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


def _unwrap_secret(value: object) -> object:
    # starlette.datastructures.Secret hides its value in repr; str() reveals it.
    if isinstance(value, Secret):
        return str(value)
    return value


def env_var(field: str) -> str:
    """The environment variable that sets the session setting ``field``."""
    return _env_var(SessionSettings, field)
