"""SealedCodec: the sealed cookie format, its keys, rotation, migration and rejection.

The literal cookies below are fixed test vectors, made with a frozen clock (``NOW``), the
keys of ``tests.conftest`` and the nonce ``bytes(range(24))``:
``SealedCodec([key], clock=lambda: NOW, random=lambda n: bytes(range(n))).encode(DATA)``.
They pin the format; a test also rebuilds the first one from the primitives the module's
docstring names, so the documentation and the code cannot drift apart either.
"""

from __future__ import annotations

import base64
import os
import string
import sys
from typing import TYPE_CHECKING, Any

import pytest
from blockbuster import blockbuster_ctx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from itsdangerous import TimestampSigner
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionkit import (
    SessionCodec,
    SessionConfigError,
    SessionMiddleware,
    SessionSettings,
    SessionTooLargeError,
    SessionUnreadableError,
)
from sessionkit.sealing import AAD_PREFIX, COOKIE_KEY_INFO, SEAL_INFO, SealedCodec, derive_key
from tests.conftest import KEY, OLD_KEY

if TYPE_CHECKING:
    from httpx2 import Response

    from sessionkit.codec import Decoded

NOW = 1_700_000_000
DATA = {"user": "alice", "n": 1, "tags": ["a", "b"]}
SECRET = {"user": "alice", "api_token": "tok_live_4f9c2e7a1b"}
NONCE = bytes(range(24))

#: DATA sealed with KEY at NOW, nonce NONCE.
SEALED_COOKIE = (
    "~1AAECAwQFBgcICQoLDA0ODxAREhMUFRYX5irMjQGmVTNJ_zJ-J5Jr19jV6Bx8Av6HX9-yLNDhChStlx6fkzebLs8"
    "DJS5Ru2FXFzq_1mgcSEGtRpQsQtCItU-l_im2Dpo"
)
#: The same, sealed with OLD_KEY.
SEALED_COOKIE_OLD_KEY = (
    "~1AAECAwQFBgcICQoLDA0ODxAREhMUFRYXmawAvFaylwqkudrA267_QYYPnPGVkyfuqe3g6WNq4DIWx98-cM5ljH7"
    "5BpIKy_go-XAWzScT9GXhw1ouuZolFfz9rAch26s"
)
BASE64URL = string.ascii_letters + string.digits + "-_"


def sealed(
    *keys: str,
    cookie_name: str = "session",
    now: float = NOW,
    max_age: int | None = None,
    absolute_lifetime: int | None = None,
    fixed_nonce: bool = False,
    read_starlette_cookies: bool = True,
) -> SealedCodec:
    """A sealed codec over ``keys`` (KEY if none) with a frozen clock."""
    return SealedCodec(
        list(keys or (KEY,)),
        cookie_name=cookie_name,
        max_age=max_age,
        absolute_lifetime=absolute_lifetime,
        read_starlette_cookies=read_starlette_cookies,
        clock=lambda: now,
        random=(lambda size: NONCE[:size]) if fixed_nonce else os.urandom,
    )


def opened(result: Decoded | None) -> Decoded:
    assert result is not None, "the cookie was rejected"
    return result


# --- The format ------------------------------------------------------------------------------


def test_seal_matches_the_fixed_vectors() -> None:
    """The sealed format is pinned: same data, key, clock and nonce give the same cookie."""
    assert sealed(fixed_nonce=True).encode(DATA) == SEALED_COOKIE
    assert sealed(OLD_KEY, fixed_nonce=True).encode(DATA) == SEALED_COOKIE_OLD_KEY


def test_fixed_vector_opens_to_its_data() -> None:
    """The pinned vector opens with its key and frozen clock to the known session."""
    result = opened(sealed().decode(SEALED_COOKIE))
    assert result.data == DATA
    assert result.payload == b'{"user":"alice","n":1,"tags":["a","b"]}'
    assert (result.signed_at, result.created_at, result.stale) == (NOW, NOW, False)


def test_fixed_vector_follows_the_documented_format() -> None:
    """The vector is rebuilt from the documented steps with cryptography's own HKDF and AES-GCM."""
    master = HKDF(hashes.SHA256(), 32, salt=None, info=SEAL_INFO).derive(KEY.encode())
    cookie_key = HKDFExpand(hashes.SHA256(), 32, COOKIE_KEY_INFO + NONCE[:12]).derive(master)
    plaintext = NOW.to_bytes(8, "big") * 2 + b'{"user":"alice","n":1,"tags":["a","b"]}'
    sealed_bytes = AESGCM(cookie_key).encrypt(NONCE[12:], plaintext, AAD_PREFIX + b"session")
    body = base64.urlsafe_b64encode(NONCE + sealed_bytes).rstrip(b"=").decode()
    assert "~1" + body == SEALED_COOKIE


def test_round_trip_keeps_data_and_times() -> None:
    """A sealed session opens to the same data, its payload and both times."""
    codec = sealed()
    result = opened(codec.decode(codec.sign(codec.dumps(DATA), created_at=NOW - 50)))
    assert result.data == DATA
    assert result.payload == codec.dumps(DATA)
    assert (result.signed_at, result.created_at, result.stale) == (NOW, NOW - 50, False)


def test_each_cookie_gets_a_fresh_nonce() -> None:
    """The same session sealed twice at the same second gives two different cookies."""
    codec = sealed()
    first, second = codec.encode(DATA), codec.encode(DATA)
    assert first != second
    assert first[2:34] != second[2:34]  # the 24-byte nonce, base64
    assert opened(codec.decode(first)).data == opened(codec.decode(second)).data == DATA


def test_content_is_not_readable_from_the_cookie() -> None:
    """No part of a sealed cookie, base64-decoded at any alignment, shows the session's text."""
    cookie = sealed().encode(SECRET)
    assert "tok_live" not in cookie
    body = cookie[2:]
    for start in range(4):
        part = body[start:]
        raw = base64.urlsafe_b64decode(part[: len(part) - len(part) % 4])
        for text in (b"tok_live", b"alice", b"api_token", b'{"'):
            assert text not in raw


def test_sealed_cookies_start_with_a_mark_no_signed_cookie_has() -> None:
    """Sealed values start with '~1'; sessionkit's and Starlette's signed values never do."""
    assert sealed().encode(DATA).startswith("~1")
    assert "~" not in BASE64URL + "."
    signed = SessionCodec([KEY]).encode({})
    starlette = TimestampSigner(KEY).sign(base64.b64encode(b"{}")).decode()
    assert not signed.startswith("~")
    assert not starlette.startswith("~")


def test_derived_keys_are_neither_the_secret_nor_the_signing_key() -> None:
    """Sealing keys come from HKDF with their own info: not the raw secret, not the signer's key."""
    key = derive_key(KEY)
    signing_key = SessionCodec([KEY])._signers[0].derive_key()
    assert len(key) == 32
    assert key not in (KEY.encode(), KEY.encode()[:32], signing_key)
    assert key != derive_key(OLD_KEY)
    assert key != derive_key(KEY, b"sessionkit/v1 another purpose")
    assert key == HKDF(hashes.SHA256(), 32, salt=None, info=SEAL_INFO).derive(KEY.encode())


# --- Rejection -------------------------------------------------------------------------------


def test_every_character_changed_gives_no_session() -> None:
    """Each character of a sealed cookie replaced by any other base64url one: no session."""
    codec = sealed()
    cookie = codec.encode(DATA)
    accepted = [
        (index, char)
        for index in range(len(cookie))
        for char in BASE64URL
        if char != cookie[index]
        and codec.decode(cookie[:index] + char + cookie[index + 1 :]) is not None
    ]
    assert accepted == []


def test_truncated_or_extended_cookies_give_no_session() -> None:
    """A sealed cookie cut at any length, or with characters added, is no session."""
    codec = sealed()
    cookie = codec.encode(DATA)
    assert all(codec.decode(cookie[:end]) is None for end in range(len(cookie)))
    for extra in ("A", "AA", "AAA", "AAAA", "=", "==", ".", "!", " "):
        assert codec.decode(cookie + extra) is None, extra
        assert codec.decode(cookie[:2] + extra + cookie[2:]) is None, extra


@pytest.mark.parametrize(
    "value",
    ["~1", "~1AAAA", "~", "~2" + SEALED_COOKIE[2:], "~1" + "A" * 200, "~1é", b"~1\xff\xfe"],
    ids=repr,
)
def test_malformed_sealed_values_give_no_session(value: str | bytes) -> None:
    """Short, non-base64, non-ASCII or wrong-version sealed values are no session, not errors."""
    assert sealed().decode(value) is None


def test_sealed_for_one_cookie_name_is_no_session_under_another() -> None:
    """The cookie's name is associated data: a 'session' value is nothing as 'admin_session'."""
    cookie = sealed().encode(DATA)
    assert sealed(cookie_name="admin_session").decode(cookie) is None
    assert opened(sealed().decode(cookie)).data == DATA


def test_sealed_with_another_key_is_no_session() -> None:
    """A cookie sealed with a key the codec does not hold is no session."""
    assert sealed(OLD_KEY).decode(SEALED_COOKIE) is None


def test_non_object_json_is_no_session() -> None:
    """A sealed payload that is JSON but not an object is no session."""
    codec = sealed()
    assert codec.decode(codec.sign(b"[1, 2]")) is None


@pytest.mark.parametrize(
    ("options", "now"),
    [
        ({"max_age": 100}, NOW + 101),
        ({}, NOW - 61),  # sealed more than the clock skew in the future
        ({"absolute_lifetime": 1000}, NOW + 1001),
    ],
    ids=["expired", "from the future", "past its absolute lifetime"],
)
def test_lifetimes_are_checked_as_for_signed_cookies(options: dict[str, Any], now: int) -> None:
    """Expiry, clock skew and the absolute lifetime reject a sealed cookie as a signed one."""
    signed = SessionCodec([KEY], clock=lambda: NOW).encode(DATA)
    assert sealed(now=now, **options).decode(SEALED_COOKIE) is None
    assert SessionCodec([KEY], clock=lambda: now, **options).decode(signed) is None
    assert sealed(now=NOW + 50, **options).decode(SEALED_COOKIE) is not None


def test_creation_time_survives_resealing() -> None:
    """A re-sealed session keeps its creation time, so the absolute lifetime still ends it."""
    later = sealed(now=NOW + 500, absolute_lifetime=1000)
    resealed = later.sign(later.dumps(DATA), created_at=NOW)
    assert opened(later.decode(resealed)).created_at == NOW
    assert sealed(now=NOW + 1001, absolute_lifetime=1000).decode(resealed) is None


# --- Rotation and migration ------------------------------------------------------------------


def test_fallback_key_opens_and_marks_stale() -> None:
    """A cookie sealed with a fallback key opens, marked stale so that it is re-sealed."""
    codec = sealed(KEY, OLD_KEY)
    result = opened(codec.decode(SEALED_COOKIE_OLD_KEY))
    assert (result.data, result.stale) == (DATA, True)
    assert opened(codec.decode(SEALED_COOKIE)).stale is False
    resealed = codec.encode(result.data)
    assert opened(sealed(KEY).decode(resealed)).data == DATA  # with the current key


def test_signed_sessionkit_cookie_is_read_and_marked_stale() -> None:
    """A signed sessionkit cookie opens under encryption, stale: it is re-issued sealed."""
    for key in (KEY, OLD_KEY):  # signed with the current key too: it is not sealed
        signed = SessionCodec([key], clock=lambda: NOW).encode(DATA)
        result = opened(sealed(KEY, OLD_KEY).decode(signed))
        assert (result.data, result.stale) == (DATA, True)
    assert sealed(cookie_name="admin").decode(SessionCodec([KEY]).encode(DATA)) is None


def test_starlette_cookie_is_read_unless_refused() -> None:
    """A Starlette cookie opens under encryption (stale) unless read_starlette_cookies is off."""
    starlette = TimestampSigner(KEY).sign(base64.b64encode(b'{"n": 1}')).decode()
    result = opened(SealedCodec([KEY]).decode(starlette))
    assert (result.data, result.stale) == ({"n": 1}, True)
    assert SealedCodec([KEY], read_starlette_cookies=False).decode(starlette) is None


# --- Writing ---------------------------------------------------------------------------------


def test_unreadable_session_is_refused_when_sealed() -> None:
    """A session nested deeper than the reader allows is refused at sealing, not sealed."""
    with pytest.raises(SessionUnreadableError, match="nests deeper"):
        sealed().sign(b"[" * 300 + b"]" * 300)


def test_sealed_codec_refuses_compression() -> None:
    """A sealed codec never compresses: asking for it is an error."""
    with pytest.raises(ValueError, match="never compressed"):
        SealedCodec([KEY], compress=True)


def test_short_random_source_is_an_error() -> None:
    """A random source that gives fewer bytes than a nonce needs raises, never seals."""
    codec = SealedCodec([KEY], random=lambda size: b"\x00" * 12)
    with pytest.raises(ValueError, match="12 bytes, not 24"):
        codec.encode(DATA)


# --- Settings --------------------------------------------------------------------------------


def test_settings_with_encrypt_give_a_sealed_codec() -> None:
    """from_settings gives a sealed codec with encrypt=True, the signed one otherwise."""
    on = SessionCodec.from_settings(SessionSettings(secret_key=KEY, encrypt=True))
    off = SessionCodec.from_settings(SessionSettings(secret_key=KEY))
    assert isinstance(on, SealedCodec)
    assert type(off) is SessionCodec
    assert on.encode(DATA).startswith("~1")


def test_encrypt_reads_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """SESSION_ENCRYPT=true turns sealing on."""
    monkeypatch.setenv("SESSION_ENCRYPT", "true")
    assert SessionSettings(secret_key=KEY).encrypt is True


def test_encrypt_with_compress_is_a_config_error() -> None:
    """compress with encrypt is refused at startup, naming both settings and variables."""
    with pytest.raises(SessionConfigError) as info:
        SessionSettings(secret_key=KEY, encrypt=True, compress=True)
    message = str(info.value)
    for name in ("compress", "SESSION_COMPRESS", "encrypt", "SESSION_ENCRYPT", "length"):
        assert name in message


def test_encrypt_without_cryptography_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """encrypt=True without the cryptography package is a config error naming the extra."""
    monkeypatch.setitem(sys.modules, "cryptography", None)
    with pytest.raises(SessionConfigError, match=r"sessionkit\[encryption\]") as info:
        SessionSettings(secret_key=KEY, encrypt=True)
    assert "SESSION_ENCRYPT" in str(info.value)
    SessionSettings(secret_key=KEY)  # without encrypt, nothing is needed


# --- Through the middleware ------------------------------------------------------------------


async def read(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def write(request: Request) -> JSONResponse:
    request.session.update(request.query_params)
    return JSONResponse(dict(request.session))


async def write_big(request: Request) -> PlainTextResponse:
    request.session["big"] = os.urandom(int(request.query_params["n"])).hex()
    return PlainTextResponse("stored")


def client(**config: Any) -> TestClient:
    """A TestClient on an app whose sessions are sealed (KEY, encrypt=True, ``config``)."""
    settings = SessionSettings(secret_key=KEY, encrypt=True, **config)
    routes = [Route("/read", read), Route("/write", write), Route("/big", write_big)]
    return TestClient(Starlette(routes=routes, middleware=[settings.middleware()]))


def issued(response: Response) -> str:
    """The value of the session cookie that ``response`` sets."""
    (header,) = response.headers.get_list("set-cookie")
    name, _, rest = header.partition("=")
    assert name == "session"
    return rest.split(";", 1)[0]


def test_middleware_issues_sealed_cookies_and_reads_them_back() -> None:
    """With encrypt=True the app's cookie is sealed, and the next request reads it."""
    with client() as http:
        value = issued(http.get("/write?api_token=tok_live_4f9c2e7a1b"))
        assert value.startswith("~1")
        assert "tok_live" not in value
        response = http.get("/read")
        assert response.json() == {"api_token": "tok_live_4f9c2e7a1b"}
        assert "set-cookie" not in response.headers  # read-only, fresh: nothing to re-issue


def test_signed_cookie_is_reissued_sealed_on_a_read() -> None:
    """Turning encryption on: a signed cookie is read, and re-issued sealed even on a read."""
    signed = SessionCodec([KEY]).encode({"user": "alice"})
    response = client().get("/read", headers={"cookie": f"session={signed}"})
    assert response.json() == {"user": "alice"}
    value = issued(response)
    assert value.startswith("~1")
    assert opened(SealedCodec([KEY]).decode(value)).data == {"user": "alice"}


def test_cookie_sealed_with_a_fallback_is_resealed_with_the_current_key() -> None:
    """A cookie sealed with a fallback key is read and re-sealed with the current key."""
    old = SealedCodec([OLD_KEY]).encode({"user": "alice"})
    response = client(secret_key_fallbacks=[OLD_KEY]).get(
        "/read", headers={"cookie": f"session={old}"}
    )
    assert response.json() == {"user": "alice"}
    assert opened(SealedCodec([KEY]).decode(issued(response))).data == {"user": "alice"}


@pytest.mark.parametrize(
    "value", ["~1", "~1" + "A" * 300, SEALED_COOKIE[:-1] + "B", "~1%%%", '"~1AAAA"'], ids=repr
)
def test_bad_sealed_cookie_is_an_empty_session(value: str) -> None:
    """A bad sealed cookie gives the app an empty session and a 200, never a 500."""
    response = client().get("/read", headers={"cookie": f"session={value}"})
    assert (response.status_code, response.json()) == (200, {})


def test_oversized_sealed_session_raises_a_clear_error() -> None:
    """A sealed cookie past 4096 bytes raises SessionTooLargeError, never goes out silently."""
    with pytest.raises(SessionTooLargeError, match=r"over the 4096-byte limit"):
        client().get("/big?n=1600")  # 3200 bytes of JSON: too large once sealed and base64
    assert len(issued(client().get("/big?n=1400"))) <= 4096 - len("session=")


def test_lazily_built_sealed_stack_does_not_block_the_loop() -> None:
    """Built on the first request (on the loop, under blockbuster), sealing blocks nothing."""
    SessionSettings(secret_key=KEY, encrypt=True)  # as at startup, outside the loop
    middleware = Middleware(SessionMiddleware, secret_key=KEY, encrypt=True)
    app = Starlette(routes=[Route("/write", write)], middleware=[middleware])
    with blockbuster_ctx("sessionkit"):  # flags blocking calls made by sessionkit's code
        value = issued(TestClient(app).get("/write?a=1"))
    assert opened(SealedCodec([KEY]).decode(value)).data == {"a": "1"}
