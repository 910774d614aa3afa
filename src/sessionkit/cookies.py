"""Reading the session cookie from request headers, and the one builder of ``Set-Cookie``.

Attributes are spelled and ordered as Starlette's ``SessionMiddleware`` does, so existing
header snapshots keep passing: ``name=value; path=/; Max-Age=N; httponly; samesite=lax``
then ``; secure``, ``; domain=...``, ``; partitioned`` as configured. Deleting uses the same
attributes with ``expires`` in the past.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sessionkit.settings import SessionSettings

__all__ = ["COOKIE_SIZE_LIMIT", "CookieWriter", "read_cookies"]

#: Bytes browsers store for a cookie's name and value together (RFC 6265 section 6.1).
COOKIE_SIZE_LIMIT = 4096

_EXPIRED = "expires=Thu, 01 Jan 1970 00:00:00 GMT; "


def read_cookies(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    """Every value of the cookie ``name`` in the request's ``Cookie`` headers, in order.

    Finds ``name=`` at the start of a pair rather than splitting the header, so the other
    cookies (often most of it) are never copied; lenient spellings fall back to a split.
    """
    found: list[bytes] = []
    target = name + b"="
    skip = len(target)
    for header, value in headers:
        if header != b"cookie":
            continue
        start = value.find(target)
        if start < 0:
            if name in value:  # perhaps "name = value"
                found += _split(value, name)
            continue
        while True:
            stop = value.find(b";", start)
            if start == 0 or not value[value.rfind(b";", 0, start) + 1 : start].strip():
                content = value[start + skip : stop] if stop >= 0 else value[start + skip :]
                found.append(_unquote(content.strip()))
            if stop < 0:
                break  # the header's last pair: no need to search on
            start = value.find(target, stop)
            if start < 0:
                break
    return found


def _split(value: bytes, name: bytes) -> list[bytes]:
    # Lenient spellings too (``name = value``), as Starlette's cookie parser reads them.
    found = []
    for chunk in value.split(b";"):
        key, sep, content = chunk.partition(b"=")
        if sep and key.strip() == name:
            found.append(_unquote(content.strip()))
    return found


def _unquote(content: bytes) -> bytes:
    if content[-1:] == b'"' and len(content) > 1 and content[:1] == b'"':
        return content[1:-1]
    return content


class CookieWriter:
    """Builds every ``Set-Cookie`` value for the session cookie from the settings."""

    def __init__(self, settings: SessionSettings) -> None:
        self.name: str = settings.session_cookie
        self.max_age: int | None = settings.max_age
        flags = f"httponly; samesite={settings.same_site}"
        if settings.https_only:
            flags += "; secure"
        if settings.domain is not None:
            flags += f"; domain={settings.domain}"
        if settings.partitioned:
            flags += "; partitioned"
        lifetime = f"Max-Age={self.max_age}; " if self.max_age is not None else ""
        self._set_tail = f"; path={settings.path}; {lifetime}{flags}"
        self._delete = f"{self.name}=null; path={settings.path}; {_EXPIRED}{flags}".encode(
            "latin-1"
        )

    def size(self, value: str) -> int:
        """The bytes that count against :data:`COOKIE_SIZE_LIMIT` for ``value``."""
        return len(self.name) + len(value)

    def set(self, value: str) -> bytes:
        """The header that stores ``value`` (an ASCII cookie value)."""
        return f"{self.name}={value}{self._set_tail}".encode("latin-1")

    def delete(self) -> bytes:
        """The header that makes the browser forget the cookie."""
        return self._delete
