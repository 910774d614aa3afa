"""sessionkit: HTTP sessions for ASGI apps, in cookies or on Redis; declared, validated, typed."""

from sessionkit.codec import SessionCodec
from sessionkit.csrf import CSRFMiddleware, CSRFSettings, check_cross_origin, csrf_token
from sessionkit.exceptions import (
    SessionConfigError,
    SessionConfigWarning,
    SessionError,
    SessionKeyMissingError,
    SessionLockedError,
    SessionNotInstalledError,
    SessionStoreError,
    SessionTooLargeError,
    SessionUnreadableError,
    SessionValueError,
)
from sessionkit.keys import SessionKey
from sessionkit.middleware import SessionMiddleware, get_session, get_store
from sessionkit.session import Session
from sessionkit.settings import SessionSettings
from sessionkit.store import SessionInfo, SessionStore

__all__ = [
    "CSRFMiddleware",
    "CSRFSettings",
    "Session",
    "SessionCodec",
    "SessionConfigError",
    "SessionConfigWarning",
    "SessionError",
    "SessionInfo",
    "SessionKey",
    "SessionKeyMissingError",
    "SessionLockedError",
    "SessionMiddleware",
    "SessionNotInstalledError",
    "SessionSettings",
    "SessionStore",
    "SessionStoreError",
    "SessionTooLargeError",
    "SessionUnreadableError",
    "SessionValueError",
    "check_cross_origin",
    "csrf_token",
    "get_session",
    "get_store",
]
