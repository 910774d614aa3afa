"""The exceptions sessionkit raises, and the one warning it issues.

Every exception derives from :class:`SessionError`::

    SessionError
    ├── SessionConfigError (also ValueError)      a setting is invalid; raised at startup
    ├── SessionNotInstalledError (also RuntimeError)
    │                                              no SessionMiddleware in front of the app
    ├── SessionLockedError (also RuntimeError)    the session can no longer reach the browser
    ├── SessionTooLargeError (also ValueError)    the cookie would exceed what browsers store
    ├── SessionUnreadableError (also ValueError)  the session could not be read back
    ├── SessionStoreError                         the store cannot do what was asked
    ├── SessionValueError (also ValueError)       a value does not fit a SessionKey's type
    └── SessionKeyMissingError (also LookupError) a SessionKey without default is absent

:class:`SessionConfigWarning` (a ``UserWarning``) flags legal but risky settings.

Messages never contain a secret key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "SessionConfigError",
    "SessionConfigWarning",
    "SessionError",
    "SessionKeyMissingError",
    "SessionLockedError",
    "SessionNotInstalledError",
    "SessionStoreError",
    "SessionTooLargeError",
    "SessionUnreadableError",
    "SessionValueError",
]


class SessionError(Exception):
    """Base class of every exception raised by sessionkit."""


class SessionConfigError(SessionError, ValueError):
    """One or more session settings are invalid.

    ``problems`` holds one line per bad setting; each names the setting, its
    environment variable and the fix.
    """

    def __init__(self, problems: Sequence[str], kind: str = "session") -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        count = len(self.problems)
        head = f"invalid {kind} setting" if count == 1 else f"{count} invalid {kind} settings"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class SessionConfigWarning(UserWarning):
    """A session setting is legal but risky (a weak key, a cookie that expires at once)."""


class SessionNotInstalledError(SessionError, RuntimeError):
    """The session was used on a connection that no SessionMiddleware handled."""


class SessionLockedError(SessionError, RuntimeError):
    """The session was changed when the change could no longer reach the browser.

    On a WebSocket the cookie can only travel in the handshake response, so the
    session is read-only once the connection is accepted.
    """


class SessionStoreError(SessionError):
    """The session store cannot do what was asked: it is down, or it is not the kind of
    store the operation needs (listing sessions on the cookie store)."""


class SessionTooLargeError(SessionError, ValueError):
    """The session cookie would be larger than browsers store, so it would be lost."""

    def __init__(self, size: int, limit: int, largest_keys: Sequence[tuple[str, int]]) -> None:
        self.size = size
        self.limit = limit
        self.largest_keys: tuple[tuple[str, int], ...] = tuple(largest_keys)
        keys = ", ".join(f"{name!r} ({length} bytes)" for name, length in self.largest_keys)
        super().__init__(
            f"the session cookie would be {size} bytes (name and value), over the {limit}-byte "
            f"limit browsers store, so the browser would silently drop it. Largest keys: "
            f"{keys or 'none'}. Store less in the session (keep large data server-side and "
            f"put only its id in the session), or enable compression (compress=True)."
        )


class SessionUnreadableError(SessionError, ValueError):
    """The session would be written in a form that reading it refuses, so it would be lost.

    ``limit`` is the reader's limit that the session exceeds (nesting levels, or bytes).
    """

    def __init__(self, problem: str, *, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"{problem}; written as it is, the next request would find no session and the "
            f"user would lose it. Store less, or flatter, data in the session (keep large "
            f"data server-side and put only its id in the session)."
        )


class SessionValueError(SessionError, ValueError):
    """A value given to :meth:`SessionKey.set` does not validate against the key's type."""


class SessionKeyMissingError(SessionError, LookupError):
    """A :class:`SessionKey` without a default has no (valid) value in the session."""
