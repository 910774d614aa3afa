"""sessionkit: signed-cookie sessions for ASGI apps, declared, validated at startup, typed."""

from sessionkit.codec import SessionCodec
from sessionkit.exceptions import (
    SessionConfigError,
    SessionConfigWarning,
    SessionError,
    SessionKeyMissingError,
    SessionLockedError,
    SessionNotInstalledError,
    SessionTooLargeError,
    SessionValueError,
)
from sessionkit.keys import SessionKey
from sessionkit.middleware import SessionMiddleware, get_session
from sessionkit.session import Session
from sessionkit.settings import SessionSettings

__all__ = [
    "Session",
    "SessionCodec",
    "SessionConfigError",
    "SessionConfigWarning",
    "SessionError",
    "SessionKey",
    "SessionKeyMissingError",
    "SessionLockedError",
    "SessionMiddleware",
    "SessionNotInstalledError",
    "SessionSettings",
    "SessionTooLargeError",
    "SessionValueError",
    "get_session",
]
