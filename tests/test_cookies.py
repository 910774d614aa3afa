"""CookieWriter's exact Set-Cookie strings, and read_cookies' parsing of Cookie headers."""

from __future__ import annotations

from typing import Any

import pytest

from sessionkit import SessionSettings
from sessionkit.cookies import COOKIE_SIZE_LIMIT, CookieWriter, read_cookies
from tests.conftest import KEY

EXPIRED = "expires=Thu, 01 Jan 1970 00:00:00 GMT"


def writer(**config: Any) -> CookieWriter:
    """A CookieWriter for KEY-signed settings with ``config``."""
    return CookieWriter(SessionSettings(secret_key=KEY, **config))


HEADER_CASES = [
    pytest.param(
        {},
        "session=VALUE; path=/; Max-Age=1209600; httponly; samesite=lax",
        f"session=null; path=/; {EXPIRED}; httponly; samesite=lax",
        id="defaults",
    ),
    pytest.param(
        {"https_only": True},
        "session=VALUE; path=/; Max-Age=1209600; httponly; samesite=lax; secure",
        f"session=null; path=/; {EXPIRED}; httponly; samesite=lax; secure",
        id="secure",
    ),
    pytest.param(
        {"domain": "example.com"},
        "session=VALUE; path=/; Max-Age=1209600; httponly; samesite=lax; domain=example.com",
        f"session=null; path=/; {EXPIRED}; httponly; samesite=lax; domain=example.com",
        id="domain",
    ),
    pytest.param(
        {"domain": ".example.com"},
        "session=VALUE; path=/; Max-Age=1209600; httponly; samesite=lax; domain=.example.com",
        f"session=null; path=/; {EXPIRED}; httponly; samesite=lax; domain=.example.com",
        id="domain-leading-dot",
    ),
    pytest.param(
        {"same_site": "strict"},
        "session=VALUE; path=/; Max-Age=1209600; httponly; samesite=strict",
        f"session=null; path=/; {EXPIRED}; httponly; samesite=strict",
        id="strict",
    ),
    pytest.param(
        {"session_cookie": "sid", "path": "/app", "max_age": 60},
        "sid=VALUE; path=/app; Max-Age=60; httponly; samesite=lax",
        f"sid=null; path=/app; {EXPIRED}; httponly; samesite=lax",
        id="name-path-max-age",
    ),
    pytest.param(
        {"max_age": None},
        "session=VALUE; path=/; httponly; samesite=lax",
        f"session=null; path=/; {EXPIRED}; httponly; samesite=lax",
        id="browser-session",
    ),
    pytest.param(
        {
            "same_site": "none",
            "https_only": True,
            "domain": "example.com",
            "partitioned": True,
        },
        "session=VALUE; path=/; Max-Age=1209600; httponly; samesite=none; secure; "
        "domain=example.com; partitioned",
        f"session=null; path=/; {EXPIRED}; httponly; samesite=none; secure; "
        "domain=example.com; partitioned",
        id="every-flag",
    ),
    pytest.param(
        {"session_cookie": "__Host-sid", "https_only": True, "max_age": 5},
        "__Host-sid=VALUE; path=/; Max-Age=5; httponly; samesite=lax; secure",
        f"__Host-sid=null; path=/; {EXPIRED}; httponly; samesite=lax; secure",
        id="host-prefix",
    ),
]


@pytest.mark.parametrize(("config", "set_header", "delete_header"), HEADER_CASES)
def test_set_header_is_starlette_spelled_and_ordered(
    config: dict[str, Any], set_header: str, delete_header: str
) -> None:
    """set() spells and orders attributes exactly as Starlette's SessionMiddleware."""
    assert writer(**config).set("VALUE") == set_header.encode("latin-1")


@pytest.mark.parametrize(("config", "set_header", "delete_header"), HEADER_CASES)
def test_delete_header_has_the_same_attributes_and_a_past_expiry(
    config: dict[str, Any], set_header: str, delete_header: str
) -> None:
    """delete() stores 'null', expires in 1970 and repeats every attribute of set()."""
    assert writer(**config).delete() == delete_header.encode("latin-1")


def test_max_age_none_omits_max_age() -> None:
    """A browser-session cookie (max_age=None) carries neither Max-Age nor expires."""
    header = writer(max_age=None).set("v").decode()
    assert "max-age" not in header.lower()
    assert "expires" not in header.lower()


def test_set_returns_bytes_with_the_value_verbatim() -> None:
    """set() returns the header as bytes, the value copied exactly."""
    value = "eyJhIjoxfQ.ZVPxAA.ZVPxAA.abc-_"
    header = writer().set(value)
    assert isinstance(header, bytes)
    assert header.startswith(b"session=" + value.encode() + b"; ")


def test_size_counts_name_and_value() -> None:
    """size() is what counts against the 4096-byte limit: name plus value."""
    assert COOKIE_SIZE_LIMIT == 4096
    assert writer().size("x" * 100) == len("session") + 100
    assert writer(session_cookie="sid").size("abc") == 6


# --- read_cookies -------------------------------------------------------------------------


READ_CASES = [
    pytest.param([(b"cookie", b"session=abc")], [b"abc"], id="single"),
    pytest.param([(b"cookie", b"a=1; session=abc; b=2")], [b"abc"], id="among-others"),
    pytest.param([(b"cookie", b"a=1;session=abc;b=2")], [b"abc"], id="no-spaces"),
    pytest.param([(b"cookie", b"  session = abc  ")], [b"abc"], id="padded"),
    pytest.param(
        [(b"cookie", b"a=1"), (b"cookie", b"session=abc"), (b"cookie", b"session=def")],
        [b"abc", b"def"],
        id="several-headers-in-order",
    ),
    pytest.param([(b"cookie", b"session=abc; session=def")], [b"abc", b"def"], id="repeated"),
    pytest.param([(b"cookie", b'session="abc"')], [b"abc"], id="quoted"),
    pytest.param([(b"cookie", b'session="')], [b'"'], id="lone-quote"),
    pytest.param([(b"cookie", b"session=a=b==")], [b"a=b=="], id="equals-in-value"),
    pytest.param([(b"cookie", b"session=")], [b""], id="empty-value"),
    pytest.param([(b"cookie", b"mysession=abc; session_old=x")], [], id="name-substring"),
    pytest.param(
        [(b"cookie", b"mysession=no; session=yes; sessionx=no")], [b"yes"], id="name-among-similar"
    ),
    pytest.param([(b"cookie", b"session")], [], id="no-equals"),
    pytest.param([(b"cookie", b"other=session")], [], id="name-as-value"),
    pytest.param([(b"x-cookie", b"session=abc"), (b"set-cookie", b"session=x")], [], id="other"),
    pytest.param([], [], id="no-headers"),
    pytest.param([(b"cookie", b"")], [], id="empty-header"),
]


@pytest.mark.parametrize(("headers", "expected"), READ_CASES)
def test_read_cookies(headers: list[tuple[bytes, bytes]], expected: list[bytes]) -> None:
    """read_cookies finds every value of exactly that cookie name, in order, unquoted."""
    assert read_cookies(headers, b"session") == expected


def test_read_cookies_keeps_non_ascii_bytes() -> None:
    """Bytes are passed through untouched; rejecting them is the codec's job."""
    assert read_cookies([(b"cookie", b"session=caf\xc3\xa9")], b"session") == [b"caf\xc3\xa9"]
