"""The benchmark suite's apps behave as its report says, so its numbers compare like with like.

``benchmarks.inprocess.check`` runs every scenario once on every flavor (bare, Starlette's
middleware, sessionkit, the minimal middleware on sessionkit's cookie format, sessionkit
with sealed cookies), asserting the
body and whether ``Set-Cookie`` is sent. The minimal middleware is a yardstick only if it
does the same verification as sessionkit, so its inline decoder is compared with
``SessionCodec.decode`` on good and bad cookies of every kind.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from typing import TYPE_CHECKING, Any

import pytest
from benchmarks.apps import LARGE, SMALL, settings_for, tamper
from benchmarks.inprocess import call, check, make_scope, prepare
from benchmarks.minimal import MinimalMiddleware, MinimalSession
from itsdangerous import TimestampSigner

from sessionkit import SessionSettings
from sessionkit.codec import SessionCodec
from sessionkit.cookies import read_cookies
from sessionkit.sealing import SealedCodec

if TYPE_CHECKING:
    from benchmarks.apps import Flavor
    from starlette.types import Receive, Scope, Send

    from tests.redis_server import RedisServer

KEY, OLD_KEY = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
NOW = time.time()
MAX_AGE = 14 * 24 * 3600


async def _never_called(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("the minimal middleware's app is not run here")


MINIMAL = MinimalMiddleware(
    _never_called,
    SessionSettings.from_config(
        {"secret_key": KEY, "secret_key_fallbacks": [OLD_KEY], "absolute_lifetime": 2 * MAX_AGE}
    ),
)


def _codec(**options: Any) -> SessionCodec:
    return SessionCodec([KEY], max_age=MAX_AGE, **options)


def _cookies() -> dict[str, str]:
    small = _codec().encode(SMALL)
    legacy = TimestampSigner(KEY).sign(base64.b64encode(json.dumps(SMALL).encode())).decode()
    return {
        "small": small,
        "large": _codec().encode(LARGE),
        "old key": SessionCodec([OLD_KEY]).encode(SMALL),
        "unknown key": SessionCodec([secrets.token_urlsafe(32)]).encode(SMALL),
        "expired": _codec(clock=lambda: NOW - MAX_AGE - 5).encode(SMALL),
        "nearly expired": _codec(clock=lambda: NOW - MAX_AGE + 3600).encode(SMALL),
        "from the future": _codec(clock=lambda: NOW + 3600).encode(SMALL),
        "slight skew": _codec(clock=lambda: NOW + 30).encode(SMALL),
        "created too long ago": _codec().encode(SMALL, created_at=int(NOW) - 3 * MAX_AGE),
        "a JSON list": _codec().sign(b"[1,2]"),
        "not JSON": _codec().sign(b"{nope"),
        "compressed": _codec(compress=True).encode(LARGE),
        "Starlette's format": legacy,
        "Starlette's, tampered": tamper(legacy),
        "tampered": tamper(small),
        "truncated": small[:-1],
        "signature changed": small[:-2] + ("A" if small[-2] != "A" else "B") + small[-1],
        "empty": "",
        "only dots": "...." + "A" * 43,
        "no dot": "A" * 43,
        "non-ASCII signature": small[:-43] + "é" * 43,
    }


@pytest.mark.parametrize("kind", list(_cookies()))
def test_the_minimal_decoder_accepts_and_rejects_what_the_codec_does(kind: str) -> None:
    token = _cookies()[kind].encode("utf-8")
    expected = MINIMAL.codec.decode(token)
    session = dict.__new__(MinimalSession)
    session.created_at = None
    loaded = MINIMAL.load_into(session, token)
    assert loaded == (expected is not None)
    assert dict(session) == (expected.data if expected is not None else {})
    assert session.created_at == (expected.created_at if expected is not None else None)


def test_the_rejections_cover_every_check() -> None:
    rejected = {kind for kind, cookie in _cookies().items() if MINIMAL.codec.decode(cookie) is None}
    assert rejected == {
        "unknown key",
        "expired",
        "from the future",
        "created too long ago",
        "a JSON list",
        "not JSON",
        "Starlette's, tampered",
        "tampered",
        "truncated",
        "signature changed",
        "empty",
        "only dots",
        "no dot",
        "non-ASCII signature",
    }


def test_every_scenario_does_what_the_report_says_for_every_flavor() -> None:
    async def run() -> None:
        bench = await prepare(secrets.token_urlsafe(32))
        await check(bench)  # raises AssertionError naming the scenario and flavor

    asyncio.run(run())


def test_the_minimal_middleware_and_sessionkit_read_each_others_cookies() -> None:
    key = secrets.token_urlsafe(32)
    bench = asyncio.run(prepare(key))
    written = asyncio.run(call(bench.apps["minimal"], bench.scopes["write_small", "minimal"]))
    header = written.header(b"set-cookie")
    assert header is not None
    cookie = header.split(b";", 1)[0].split(b"=", 1)[1].decode("ascii")
    for flavor in ("minimal", "sessionkit"):
        again = asyncio.run(call(bench.apps[flavor], make_scope("/write", cookie)))
        assert again.body == b"3", flavor  # visits went 1 -> 2 -> 3
    # The rewritten cookie keeps the session's creation time, as sessionkit's would.
    codec = SessionCodec.from_settings(settings_for(key))
    before = codec.decode(str(bench.cookies["sessionkit", "small"]))
    after = codec.decode(cookie)
    assert before is not None
    assert after is not None
    assert after.created_at == before.created_at


@pytest.mark.parametrize("flavor", ["minimal", "sessionkit", "sealed"])
def test_untouched_requests_never_decode(flavor: Flavor, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = asyncio.run(prepare(secrets.token_urlsafe(32)))

    def refuse(*args: object) -> None:
        raise AssertionError("decoded a cookie the app never used")

    monkeypatch.setattr(SessionCodec, "decode", refuse)
    monkeypatch.setattr(SealedCodec, "decode", refuse)
    monkeypatch.setattr(MinimalMiddleware, "load_into", refuse)
    reply = asyncio.run(call(bench.apps[flavor], bench.scopes["untouched_large", flavor]))
    assert reply.status == 200
    assert reply.body == b"ok"
    with pytest.raises(AssertionError, match="never used"):  # reading does decode
        asyncio.run(call(bench.apps[flavor], bench.scopes["read_large", flavor]))


def _layouts() -> dict[str, list[tuple[bytes, bytes]]]:
    good = _codec().encode(SMALL).encode()
    bad = tamper(_codec().encode(SMALL)).encode()
    return {
        "alone": [(b"cookie", b"session=" + good)],
        "among others": [(b"cookie", b"a=1; session=" + good + b"; b=2")],
        "a longer name": [(b"cookie", b"xsession=" + good)],
        "twice, bad first": [(b"cookie", b"session=" + bad + b"; session=" + good)],
        "two headers": [(b"cookie", b"session=" + bad), (b"cookie", b"session=" + good)],
        "quoted": [(b"cookie", b'session="' + good + b'"')],
        "spaced": [(b"cookie", b"session = " + good)],
        "no space": [(b"cookie", b"a=1;session=" + good)],
        "other headers only": [(b"host", b"example.test")],
        "no headers": [],
    }


@pytest.mark.parametrize("layout", list(_layouts()))
def test_the_minimal_cookie_lookup_finds_what_sessionkit_finds(layout: str) -> None:
    headers = _layouts()[layout]
    expected: dict[str, Any] = {}
    for value in read_cookies(headers, b"session"):
        decoded = MINIMAL.codec.decode(value)
        if decoded is not None:
            expected = decoded.data
            break
    session = dict.__new__(MinimalSession)
    session._middleware, session._headers, session.created_at = MINIMAL, headers, None
    assert session.get("user") == expected.get("user")
    assert dict(session) == expected


def test_the_store_benchmark_checks_and_counts_each_store(redis_db: RedisServer) -> None:
    """The Redis comparison runs every scenario on both stores and counts their commands:
    sessionkit reads in one script, starsessions in a GET and a SET."""
    from benchmarks import stores

    timings = asyncio.run(stores.measure_stores(KEY, redis_db.url, rounds=1, batch=2))
    assert timings.commands["untouched", "sessionkit"].get("evalsha") == 1
    assert timings.commands["untouched", "starsessions"] == {"get": 1, "set": 1}
    assert not timings.commands["no_cookie", "sessionkit"]
    table = stores.stores_table(timings)
    assert table.count("\n") == len(stores.STORE_SCENARIOS) + 1
