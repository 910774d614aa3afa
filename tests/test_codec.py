"""SessionCodec: signing, the cookie format, Starlette compatibility, rotation and rejection.

The literal cookies below are fixed test vectors, generated once, offline, with a frozen
clock (``NOW``) and the keys of ``tests.conftest``. They pin the formats: a change in how
sessionkit or Starlette cookies are read or written makes these tests fail.

Starlette vectors: Starlette 1.10's ``SessionMiddleware`` code path::

    with mock.patch("itsdangerous.timed.time.time", return_value=NOW):
        TimestampSigner(key).sign(b64encode(json.dumps(data).encode("utf-8")))

sessionkit vectors: ``SessionCodec([key], clock=lambda: NOW).encode(data)``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import hashlib
import json
import math
import uuid
import zlib
from typing import TYPE_CHECKING, Any

import pydantic_core
import pytest
from itsdangerous import BadSignature, TimestampSigner
from itsdangerous.encoding import base64_encode, int_to_bytes
from pydantic import BaseModel, Field

from sessionkit import Session, SessionCodec, SessionSettings, SessionUnreadableError
from sessionkit.codec import render_dict
from tests.conftest import KEY, OLD_KEY

if TYPE_CHECKING:
    from sessionkit.codec import Decoded

#: The frozen clock of every vector: 2023-11-14T22:13:20Z.
NOW = 1_700_000_000
DATA = {"user": "alice", "n": 1, "tags": ["a", "b"]}

#: Starlette's SessionMiddleware cookie for DATA, signed with KEY at NOW.
STARLETTE_COOKIE = (
    "eyJ1c2VyIjogImFsaWNlIiwgIm4iOiAxLCAidGFncyI6IFsiYSIsICJiIl19."
    "ZVPxAA.Xtlq_wgroVHWCYyP23mmJT2W0do"
)
#: The same, signed with OLD_KEY.
STARLETTE_COOKIE_OLD_KEY = (
    "eyJ1c2VyIjogImFsaWNlIiwgIm4iOiAxLCAidGFncyI6IFsiYSIsICJiIl19."
    "ZVPxAA.0_4un6A2igIMZIVOP3lcEpjZbkg"
)
#: Starlette cookies whose standard base64 has '+', '/' and '=' padding (KEY, NOW).
STARLETTE_PADDED = {
    "eyJtc2ciOiAiY2FmXHUwMGU5ID8+Pj8iLCAib2siOiB0cnVlfQ==.ZVPxAA.-3oGHYSfqRIIpcnwLeGOcQ9gF3Q": {
        "msg": "caf\u00e9 ?>>?",
        "ok": True,
    },
    "eyJtIjogIj8/Pz4ifQ==.ZVPxAA.avDnHl6rDedOWve3mj5IqdCyUeY": {"m": "???>"},
}
#: sessionkit's cookie for DATA, signed with KEY at NOW (created at NOW).
SESSIONKIT_COOKIE = (
    "eyJ1c2VyIjoiYWxpY2UiLCJuIjoxLCJ0YWdzIjpbImEiLCJiIl19.ZVPxAA.ZVPxAA."
    "RG6IFhcH8ylHwITYce25DQVRonxNsf28D6mggavsuwc"
)
#: The same, signed with OLD_KEY.
SESSIONKIT_COOKIE_OLD_KEY = (
    "eyJ1c2VyIjoiYWxpY2UiLCJuIjoxLCJ0YWdzIjpbImEiLCJiIl19.ZVPxAA.ZVPxAA."
    "QFicTh7ycBNUylsAHy8XWGqUR24piDc_QCUmlSsjHpA"
)


def codec(
    *keys: str,
    cookie_name: str = "session",
    now: float = NOW,
    max_age: int | None = None,
    absolute_lifetime: int | None = None,
    compress: bool = False,
) -> SessionCodec:
    """A codec over ``keys`` (KEY if none) with a frozen clock."""
    result = SessionCodec(
        list(keys or (KEY,)),
        cookie_name=cookie_name,
        max_age=max_age,
        absolute_lifetime=absolute_lifetime,
        compress=compress,
    )
    result.clock = lambda: now
    return result


def sign_raw(payload_part: bytes, *, created: int = NOW, signed_at: int = NOW) -> str:
    """A validly signed sessionkit token around an arbitrary (possibly bad) payload part."""
    signer_codec = codec(now=signed_at)
    value = payload_part + b"." + base64_encode(int_to_bytes(created))
    return signer_codec._signers[0].sign(value).decode("ascii")


def sign_json(payload: bytes) -> str:
    """A validly signed, uncompressed sessionkit token holding ``payload`` as its JSON."""
    return sign_raw(base64_encode(payload))


def sign_compressed(payload: bytes) -> str:
    """A validly signed token holding ``payload`` zlib-compressed, as compress=True writes."""
    return sign_raw(b"." + base64_encode(zlib.compress(payload, 9)))


def sign_without_created(value: bytes) -> str:
    """A validly signed sessionkit-length token whose value lacks the creation time."""
    return codec()._signers[0].sign(value).decode("ascii")


def sign_legacy(body: bytes) -> str:
    """A validly signed, timestamped Starlette-format token around an arbitrary body."""
    return codec()._legacy[0].sign(body).decode("ascii")


def decoded(value: Decoded | None) -> Decoded:
    """``value``, asserted to be a successful decode."""
    assert value is not None
    return value


# --- round trip and the sessionkit format -------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="empty"),
        pytest.param(DATA, id="simple"),
        pytest.param({"nested": {"a": [1, 2, {"b": None}]}, "f": 1.5, "t": True}, id="nested"),
        pytest.param({"text": "caf\u00e9 \u2603 \U0001f600 ; , = \" '"}, id="unicode"),
        pytest.param({"big": 2**70, "neg": -1}, id="integers"),
    ],
)
def test_round_trip(data: dict[str, Any]) -> None:
    """decode(encode(data)) gives the data back, fresh and not stale."""
    session_codec = codec()
    result = decoded(session_codec.decode(session_codec.encode(data)))
    assert result.data == data
    assert result.stale is False
    assert result.signed_at == NOW
    assert result.created_at == NOW
    assert json.loads(result.payload) == data


def test_decode_accepts_str_and_bytes() -> None:
    """decode takes the cookie as text or as bytes."""
    session_codec = codec()
    assert decoded(session_codec.decode(SESSIONKIT_COOKIE)).data == DATA
    assert decoded(session_codec.decode(SESSIONKIT_COOKIE.encode())).data == DATA


def test_encode_matches_the_fixed_vector() -> None:
    """The sessionkit cookie format is pinned: same data, key and clock give the same cookie."""
    assert codec().encode(DATA) == SESSIONKIT_COOKIE
    assert codec(OLD_KEY).encode(DATA) == SESSIONKIT_COOKIE_OLD_KEY


def test_fixed_vector_decodes() -> None:
    """The pinned sessionkit vector decodes with its key and frozen clock."""
    result = decoded(codec().decode(SESSIONKIT_COOKIE))
    assert result.data == DATA
    assert result.payload == b'{"user":"alice","n":1,"tags":["a","b"]}'
    assert (result.signed_at, result.created_at, result.stale) == (NOW, NOW, False)


def test_dumps_is_compact_json() -> None:
    """dumps gives compact JSON: the bytes that are signed and compared for changes."""
    assert SessionCodec.dumps({"a": [1, 2], "b": "c"}) == b'{"a":[1,2],"b":"c"}'


def test_new_cookies_use_hmac_sha256() -> None:
    """New cookies carry a 43-character (SHA-256) signature, not Starlette's 27 (SHA-1)."""
    cookie = codec().encode(DATA)
    signature = cookie.rsplit(".", 1)[1]
    assert len(signature) == 43
    assert len(base64.urlsafe_b64decode(signature + "=")) == 32


def test_new_cookies_are_not_readable_by_a_plain_starlette_signer() -> None:
    """Starlette's default TimestampSigner rejects a sessionkit cookie: the formats differ."""
    cookie = codec().encode(DATA)
    with pytest.raises(BadSignature):
        TimestampSigner(KEY).unsign(cookie)


def test_created_at_is_kept_when_given() -> None:
    """encode(created_at=...) carries the session's first issue time inside the signature."""
    later = codec(now=NOW + 500)
    result = decoded(later.decode(later.encode(DATA, created_at=NOW)))
    assert result.created_at == NOW
    assert result.signed_at == NOW + 500


def test_codec_needs_a_key() -> None:
    """A codec without keys is a programming error, reported at once."""
    with pytest.raises(ValueError, match="at least one key"):
        SessionCodec([])


def test_from_settings_uses_keys_and_lifetimes() -> None:
    """from_settings takes the keys (current first), max_age, absolute_lifetime, compress."""
    settings = SessionSettings(
        secret_key=KEY,
        secret_key_fallbacks=[OLD_KEY],
        max_age=60,
        absolute_lifetime=600,
        compress=True,
    )
    session_codec = SessionCodec.from_settings(settings)
    assert (session_codec.max_age, session_codec.absolute_lifetime) == (60, 600)
    assert session_codec.compress is True
    session_codec.clock = lambda: NOW
    assert decoded(session_codec.decode(SESSIONKIT_COOKIE_OLD_KEY)).stale is True
    assert session_codec.encode(DATA) == SESSIONKIT_COOKIE


# --- Starlette compatibility --------------------------------------------------------------


def test_starlette_cookie_vector_is_read() -> None:
    """A cookie written by Starlette's SessionMiddleware with the same key is read, as stale."""
    result = decoded(codec().decode(STARLETTE_COOKIE))
    assert result.data == DATA
    assert result.stale is True
    assert result.signed_at == NOW
    assert result.created_at == NOW


@pytest.mark.parametrize(("cookie", "data"), list(STARLETTE_PADDED.items()))
def test_starlette_cookie_with_standard_base64_is_read(cookie: str, data: dict[str, Any]) -> None:
    """Starlette's standard base64 ('+', '/', '=' padding) and escaped JSON are read."""
    assert decoded(codec().decode(cookie)).data == data


def test_starlette_cookie_with_wrong_key_is_rejected() -> None:
    """A Starlette cookie signed with a key the codec does not know is no session."""
    assert codec().decode(STARLETTE_COOKIE_OLD_KEY) is None


def test_starlette_cookie_with_fallback_key_is_read() -> None:
    """A Starlette cookie signed with a fallback key is read, stale."""
    result = decoded(codec(KEY, OLD_KEY).decode(STARLETTE_COOKIE_OLD_KEY))
    assert result.data == DATA
    assert result.stale is True


def test_starlette_cookie_expires_with_max_age() -> None:
    """Starlette cookies obey the same server-side max_age."""
    assert codec(now=NOW + 100, max_age=100).decode(STARLETTE_COOKIE) is not None
    assert codec(now=NOW + 101, max_age=100).decode(STARLETTE_COOKIE) is None


def test_tampered_starlette_cookie_is_rejected() -> None:
    """Changing one character of a Starlette cookie's payload breaks its signature."""
    tampered = "eyJ1c2VyIjogImJvYi" + STARLETTE_COOKIE[len("eyJ1c2VyIjogImFsaW") :]
    assert codec().decode(tampered) is None


@pytest.mark.parametrize(
    "junk",
    [
        pytest.param(b"!!", id="punctuation"),
        pytest.param(b" ", id="space"),
        pytest.param(b"\n", id="newline"),
        pytest.param(b"-_", id="url-safe-alphabet"),
        pytest.param(b"e30=e30=", id="padding-inside"),
    ],
)
def test_starlette_payload_outside_the_base64_alphabet_is_no_session(junk: bytes) -> None:
    """Starlette-format base64 is decoded strictly: a character outside it is no session."""
    body = base64.b64encode(b'{"user": "alice"}')
    assert decoded(codec().decode(sign_legacy(body))).data == {"user": "alice"}
    assert codec().decode(sign_legacy(body[:8] + junk + body[8:])) is None


def test_starlette_cookies_can_be_refused() -> None:
    """read_starlette_cookies=False refuses Starlette's format and still reads sessionkit's."""
    refusing = SessionCodec([KEY], read_starlette_cookies=False)
    refusing.clock = lambda: NOW
    assert refusing.decode(STARLETTE_COOKIE) is None
    assert decoded(refusing.decode(SESSIONKIT_COOKIE)).data == DATA


def test_from_settings_passes_read_starlette_cookies() -> None:
    """SESSION_READ_STARLETTE_COOKIES reaches the codec built from the settings."""
    for setting, readable in ((True, True), (False, False)):
        settings = SessionSettings(secret_key=KEY, read_starlette_cookies=setting)
        session_codec = SessionCodec.from_settings(settings)
        session_codec.clock = lambda: NOW
        assert (session_codec.decode(STARLETTE_COOKIE) is not None) is readable


# --- the cookie name is signed ----------------------------------------------------------


def test_a_cookie_is_no_session_under_another_cookie_name() -> None:
    """A value issued as "session" is refused by a codec for "admin_session", same key."""
    admin = SessionCodec([KEY], cookie_name="admin_session")
    admin.clock = lambda: NOW
    assert admin.decode(SESSIONKIT_COOKIE) is None
    assert codec().decode(admin.encode(DATA)) is None
    assert decoded(admin.decode(admin.encode(DATA))).data == DATA


def test_the_signing_salt_names_the_cookie() -> None:
    """The pinned vector is itsdangerous's HMAC-SHA256 signer salted with the cookie name."""
    signer = TimestampSigner(
        KEY,
        salt=b"sessionkit.session:session",
        key_derivation="hmac",
        digest_method=hashlib.sha256,
    )
    payload_and_created = SESSIONKIT_COOKIE.rsplit(".", 2)[0]
    assert signer.unsign(SESSIONKIT_COOKIE) == payload_and_created.encode()
    assert not signer.validate(codec(cookie_name="other").encode(DATA))


def test_from_settings_binds_the_configured_cookie_name() -> None:
    """The codec built from settings signs for settings.session_cookie."""
    settings = SessionSettings(secret_key=KEY, session_cookie="admin_session")
    session_codec = SessionCodec.from_settings(settings)
    session_codec.clock = lambda: NOW
    assert session_codec.decode(SESSIONKIT_COOKIE) is None
    assert session_codec.decode(codec(cookie_name="admin_session").encode(DATA)) is not None


# --- key rotation ---------------------------------------------------------------------------


def test_cookie_signed_with_fallback_key_is_read_and_stale() -> None:
    """A cookie signed with a fallback key is accepted and marked for re-signing."""
    result = decoded(codec(KEY, OLD_KEY).decode(SESSIONKIT_COOKIE_OLD_KEY))
    assert result.data == DATA
    assert result.stale is True


def test_cookie_signed_with_unknown_key_is_rejected() -> None:
    """Without OLD_KEY among the fallbacks, its cookies are no session."""
    assert codec(KEY).decode(SESSIONKIT_COOKIE_OLD_KEY) is None


def test_cookie_signed_with_current_key_is_not_stale() -> None:
    """A cookie signed with the current key is fresh even when fallbacks exist."""
    assert decoded(codec(KEY, OLD_KEY).decode(SESSIONKIT_COOKIE)).stale is False
    assert decoded(codec(OLD_KEY, KEY).decode(SESSIONKIT_COOKIE_OLD_KEY)).stale is False


def test_new_cookies_are_signed_with_the_current_key_only() -> None:
    """With fallbacks configured, encode signs with the first (current) key."""
    cookie = codec(KEY, OLD_KEY).encode(DATA)
    assert cookie == SESSIONKIT_COOKIE
    assert codec(KEY).decode(cookie) is not None
    assert codec(OLD_KEY).decode(cookie) is None


# --- expiry ------------------------------------------------------------------------------------


def test_max_age_is_enforced_by_the_server() -> None:
    """A cookie older than max_age is rejected whatever the browser does; at max_age it is ok."""
    assert codec(now=NOW + 60, max_age=60).decode(SESSIONKIT_COOKIE) is not None
    assert codec(now=NOW + 61, max_age=60).decode(SESSIONKIT_COOKIE) is None


def test_no_max_age_means_no_server_expiry() -> None:
    """max_age=None (browser-session cookie) sets no server-side age limit."""
    assert codec(now=NOW + 10 * 365 * 86400).decode(SESSIONKIT_COOKIE) is not None


def test_signature_from_the_future_is_rejected_beyond_clock_skew() -> None:
    """A cookie signed more than a minute in the future is rejected; a little skew is fine."""
    assert codec(now=NOW - 60).decode(SESSIONKIT_COOKIE) is not None
    assert codec(now=NOW - 61).decode(SESSIONKIT_COOKIE) is None


def test_absolute_lifetime_counts_from_creation_not_signing() -> None:
    """absolute_lifetime ends a session that was re-issued recently but created long ago."""
    cookie = codec(now=NOW + 90).encode(DATA, created_at=NOW)
    assert codec(now=NOW + 100, max_age=1000, absolute_lifetime=100).decode(cookie) is not None
    assert codec(now=NOW + 101, max_age=1000, absolute_lifetime=100).decode(cookie) is None
    assert codec(now=NOW + 101, max_age=1000).decode(cookie) is not None


def test_absolute_lifetime_of_starlette_cookie_counts_from_its_signing() -> None:
    """A Starlette cookie has no creation time: its signing time stands in for it."""
    assert codec(now=NOW + 50, absolute_lifetime=50).decode(STARLETTE_COOKIE) is not None
    assert codec(now=NOW + 51, absolute_lifetime=50).decode(STARLETTE_COOKIE) is None


# --- compression -----------------------------------------------------------------------------


def test_compression_shrinks_repetitive_data_and_round_trips() -> None:
    """compress=True writes a '.'-prefixed, shorter cookie that decodes to the same data."""
    data = {"text": "spam " * 400}
    plain = codec().encode(data)
    packed_codec = codec(compress=True)
    packed = packed_codec.encode(data)
    assert packed.startswith(".")
    assert len(packed) < len(plain) // 5
    assert decoded(packed_codec.decode(packed)).data == data
    assert decoded(codec().decode(packed)).data == data


def test_compression_is_skipped_when_it_does_not_shrink() -> None:
    """Small data is stored uncompressed even with compress=True."""
    assert codec(compress=True).encode(DATA) == SESSIONKIT_COOKIE


def test_compressed_payload_round_trips_compared_payload() -> None:
    """The decoded payload of a compressed cookie is the JSON, ready for change detection."""
    data = {"list": list(range(300))}
    result = decoded(codec(compress=True).decode(codec(compress=True).encode(data)))
    assert result.payload == SessionCodec.dumps(data)


# --- bad cookies: decode never raises ---------------------------------------------------------


def _flip(text: str, index: int) -> str:
    """``text`` with the character at ``index`` replaced by a different base64 character."""
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


BAD_COOKIES = [
    pytest.param("", id="empty"),
    pytest.param(".", id="dot"),
    pytest.param("....", id="dots"),
    pytest.param("null", id="null-literal"),
    pytest.param("garbage", id="garbage"),
    pytest.param(b"\x00\xff\xfe garbage \x80", id="garbage-bytes"),
    pytest.param("caf\u00e9.\u2603.x", id="non-ascii-str"),
    pytest.param(SESSIONKIT_COOKIE[:-1] + "\u00e9", id="non-ascii-signature"),
    pytest.param(SESSIONKIT_COOKIE.encode() + b"\xff", id="non-ascii-bytes"),
    pytest.param(_flip(SESSIONKIT_COOKIE, 3), id="tampered-payload"),
    pytest.param(_flip(SESSIONKIT_COOKIE, len(SESSIONKIT_COOKIE) - 5), id="tampered-signature"),
    pytest.param(_flip(SESSIONKIT_COOKIE, 55), id="tampered-created"),
    pytest.param(_flip(SESSIONKIT_COOKIE, 62), id="tampered-timestamp"),
    pytest.param(SESSIONKIT_COOKIE[:-1], id="truncated-end"),
    pytest.param(SESSIONKIT_COOKIE[:20], id="truncated-start"),
    pytest.param(SESSIONKIT_COOKIE[1:], id="truncated-front"),
    pytest.param(SESSIONKIT_COOKIE + "A", id="extended"),
    pytest.param(SESSIONKIT_COOKIE.replace(".", "", 1), id="dot-removed"),
    pytest.param("a.b.c." + "A" * 43, id="right-length-random-signature"),
    pytest.param("a.b." + "A" * 27, id="legacy-length-random-signature"),
    pytest.param(codec(now=NOW - 1000).encode(DATA), id="expired"),
    pytest.param(sign_raw(b"!!not-base64!!"), id="bad-base64-valid-signature"),
    pytest.param(sign_json(b"\xff\xfe{}"), id="not-utf8-valid-signature"),
    pytest.param(sign_json(b'{"a": "\xe9"}'), id="latin1-json-valid-signature"),
    pytest.param(sign_json(b"not json at all"), id="not-json-valid-signature"),
    pytest.param(sign_json(b'{"a": 1'), id="truncated-json-valid-signature"),
    pytest.param(sign_json(b"[1, 2]"), id="json-list-valid-signature"),
    pytest.param(sign_json(b"42"), id="json-number-valid-signature"),
    pytest.param(sign_json(b'"text"'), id="json-string-valid-signature"),
    pytest.param(sign_json(b"null"), id="json-null-valid-signature"),
    pytest.param(sign_json(b"true"), id="json-bool-valid-signature"),
    pytest.param(sign_json(b""), id="empty-payload-valid-signature"),
    pytest.param(sign_raw(b"." + base64_encode(b"not zlib")), id="bad-zlib-valid-signature"),
    pytest.param(sign_compressed(b"[1, 2, 3]"), id="compressed-list-valid-signature"),
    pytest.param(
        sign_compressed(b'{"a": "' + b"x" * (8 << 20) + b'"}'), id="zip-bomb-valid-signature"
    ),
    pytest.param(sign_without_created(b"e30"), id="missing-created-valid-signature"),
    pytest.param(sign_legacy(b"!!not base64!!"), id="legacy-bad-base64-valid-signature"),
    pytest.param(sign_legacy(base64.b64encode(b"[1]")), id="legacy-list-valid-signature"),
    pytest.param(sign_legacy(base64.b64encode(b"\xff{}")), id="legacy-not-utf8-valid-signature"),
    pytest.param(sign_legacy(base64.b64encode(b"{nope")), id="legacy-not-json-valid-signature"),
]


@pytest.mark.parametrize("cookie", BAD_COOKIES)
def test_bad_cookie_decodes_to_none(cookie: str | bytes) -> None:
    """Any tampered, truncated, expired, mis-encoded or non-object cookie is None, no raise."""
    assert codec(max_age=100).decode(cookie) is None


def test_validly_signed_objects_are_accepted() -> None:
    """Control for the bad cases: the same helpers with a good payload do decode."""
    assert decoded(codec().decode(sign_json(b'{"a":1}'))).data == {"a": 1}
    assert decoded(codec().decode(sign_compressed(b'{"a":1}'))).data == {"a": 1}
    legacy = decoded(codec().decode(sign_legacy(base64.b64encode(b'{"a": 1}'))))
    assert (legacy.data, legacy.stale) == ({"a": 1}, True)


def test_zip_bomb_with_valid_prefix_is_rejected() -> None:
    """A compressed payload inflating past the cap is no session, even if its start parses."""
    bomb = sign_compressed(b'{"a":1}' + b" " * (8 << 20))
    assert codec().decode(bomb) is None


def nested(depth: int) -> dict[str, Any]:
    """A session whose JSON nests ``depth`` levels deep (the object itself included)."""
    value: list[Any] = []
    for _ in range(depth - 2):
        value = [value]
    return {"deep": value}


@pytest.mark.parametrize("depth", [150, 201])
def test_nesting_the_reader_accepts_is_written(depth: int) -> None:
    """Deep but readable JSON is written and read back (the check only parses to be sure)."""
    session_codec = codec()
    assert decoded(session_codec.decode(session_codec.encode(nested(depth)))).data == nested(depth)


@pytest.mark.parametrize("depth", [202, 230, 255])
def test_nesting_the_reader_refuses_is_not_written(depth: int) -> None:
    """JSON nested deeper than decode() reads raises at write time, naming the limit."""
    with pytest.raises(SessionUnreadableError, match="nests deeper than the reader allows") as info:
        codec().encode(nested(depth))
    assert info.value.limit == 200
    assert "would lose it" in str(info.value)


def test_a_compressed_session_that_inflates_past_the_limit_is_not_written() -> None:
    """With compress=True, JSON over the inflate limit raises rather than writing a dead cookie."""
    session_codec = codec(compress=True)
    limit = 1 << 20
    padding = len(b'{"a":""}')
    fits = {"a": "x" * (limit - padding)}
    assert decoded(session_codec.decode(session_codec.encode(fits))).data == fits
    with pytest.raises(SessionUnreadableError, match=f"over the {limit}-byte limit") as info:
        session_codec.encode({"a": "x" * (limit - padding + 1)})
    assert info.value.limit == limit


# --- rendering -----------------------------------------------------------------------------


class _Aliased(BaseModel):
    user_id: int = Field(alias="userId")


class _Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class _Point:
    x: int


@pytest.mark.parametrize(
    "data",
    [
        {"inf": float("inf"), "list": [float("nan"), -float("inf")], "big": 1e300},
        {"model": _Aliased(userId=5)},
        {1: "int key", None: "none key", 1.5: "float key"},
        {"when": datetime.datetime(2024, 5, 1, 12), "gap": datetime.timedelta(seconds=3)},
        {"id": uuid.UUID(int=5), "price": decimal.Decimal("1.50"), "raw": b"xy"},
        {"set": {1}, "tuple": (1, 2), "enum": _Colour.RED, "point": _Point(1)},
        {"nested": {"a": [{"b": None, "c": True}]}, "text": "naïve ✓"},
    ],
    ids=["inf-nan", "alias", "keys", "time", "scalars", "types", "nested"],
)
def test_rendering_is_byte_for_byte_to_json(data: dict[Any, Any]) -> None:
    """The renderer behind every stored cookie writes what pydantic_core.to_json writes."""
    assert render_dict(data) == pydantic_core.to_json(data)
    assert render_dict(Session(data)) == pydantic_core.to_json(data)
    assert SessionCodec.dumps(data) == pydantic_core.to_json(data)


def test_rendering_an_unserialisable_value_fails_like_to_json() -> None:
    """An object JSON cannot hold raises pydantic's serialization error, as to_json does."""
    with pytest.raises(pydantic_core.PydanticSerializationError, match="Unable to serialize"):
        render_dict({"x": object()})


def test_infinity_survives_a_round_trip() -> None:
    """Infinity and NaN are stored as to_json writes them and read back as floats."""
    decoded = codec().decode(codec().encode({"score": float("inf"), "nan": float("nan")}))
    assert decoded is not None
    assert decoded.data["score"] == float("inf")
    assert math.isnan(decoded.data["nan"])


def test_a_bytes_subclass_cookie_decodes() -> None:
    """decode() takes any bytes, not only the exact type."""

    class Raw(bytes):
        pass

    decoded = codec().decode(Raw(SESSIONKIT_COOKIE.encode()))
    assert decoded is not None
    assert decoded.data == DATA
