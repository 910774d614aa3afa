"""Signing and encoding of session cookies, with key rotation. Knows nothing of ASGI.

A sessionkit cookie value is ``[.]PAYLOAD.CREATED.TIMESTAMP.SIGNATURE``:

- ``PAYLOAD``: the session as compact JSON, URL-safe base64 without padding; a leading
  ``.`` marks a zlib-compressed payload;
- ``CREATED``: when the session was first issued (travels signed, for the absolute lifetime);
- ``TIMESTAMP`` and ``SIGNATURE``: itsdangerous's ``TimestampSigner`` format, HMAC-SHA256 with
  a key derived (HMAC) from the secret key and a salt that names the cookie, so a value issued
  under one cookie name is no session under another, even with the same key.

Cookies written by Starlette's ``SessionMiddleware`` (standard base64 JSON, then
``TimestampSigner`` with its defaults: HMAC-SHA1, django-concat derivation) are read too, told
apart by the signature's length, so applications migrate without logging anyone out. Their
base64 is decoded strictly, and they can be refused altogether (``read_starlette_cookies``):
any code that signs with the same key and ``TimestampSigner``'s defaults mints them.

With ``encrypt=True`` cookies are sealed instead (:mod:`sessionkit.sealing`): their values
start with :data:`SEALED_PREFIX`, which no signed cookie does.

Every session is checked against the reader's limits when it is written, so nothing is
written that the next request would drop (:class:`~sessionkit.SessionUnreadableError`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
import zlib
from binascii import a2b_base64, b2a_base64
from hmac import compare_digest
from typing import TYPE_CHECKING, Any, NamedTuple

import pydantic_core
from itsdangerous import TimestampSigner
from pydantic_core import SchemaSerializer, core_schema, from_json

from sessionkit.exceptions import SessionUnreadableError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from sessionkit.settings import SessionSettings

__all__ = ["SEALED_PREFIX", "Decoded", "IdCodec", "SessionCodec", "VerifiedId", "lifetime_problem"]

logger: logging.Logger = logging.getLogger("sessionkit")

SALT = b"sessionkit.session"  #: followed by b":" and the cookie's name
_SIGNATURE_LENGTH = 43  # URL-safe base64 of a SHA-256 digest, unpadded
_LEGACY_SIGNATURE_LENGTH = 27  # the same for SHA-1: Starlette's SessionMiddleware
SEALED_PREFIX = "~1"  #: starts every sealed cookie value: ``~`` is outside base64url and not ``.``
_CLOCK_SKEW = 60  # seconds a signature may seem to come from the future (servers' clocks)


class Decoded(NamedTuple):
    """A verified session cookie."""

    data: dict[str, Any]
    #: the session's JSON exactly as signed, to tell whether the content changed
    payload: bytes
    #: when the cookie was signed, and when the session was first issued (Unix seconds)
    signed_at: int
    created_at: int
    #: signed with a fallback key or in Starlette's format: re-sign it when it is used
    stale: bool


_DICT_SERIALIZER = SchemaSerializer(
    core_schema.dict_schema(core_schema.any_schema(), core_schema.any_schema()),
    core_schema.CoreConfig(ser_json_inf_nan="constants"),  # to_json's Infinity and NaN
)


def render_dict(data: dict[Any, Any]) -> bytes:
    """``pydantic_core.to_json(data)`` byte for byte, at a plain dict's cost for a
    ``Session`` too: ``to_json`` first probes a ``dict`` subclass for pydantic and dataclass
    attributes, two failed lookups that cost as much as rendering a small session."""
    return _DICT_SERIALIZER.to_json(data, by_alias=True)  # to_json's default for models


# Decoded(...) without the Python-level __new__ that namedtuple generates.
_new_decoded = tuple.__new__


def _b64encode(data: bytes) -> bytes:
    """URL-safe base64 without padding: itsdangerous's ``base64_encode``, in C calls only."""
    return b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


def _b64decode(data: bytes) -> bytes:
    """The inverse of :func:`_b64encode` (only ever applied to signed, so trusted, text)."""
    return a2b_base64(data.translate(_FROM_URLSAFE) + b"==")


def _b64encode_int(number: int) -> bytes:
    """itsdangerous's ``base64_encode(int_to_bytes(number))``: a timestamp's text."""
    return _b64encode(number.to_bytes(8, "big").lstrip(b"\x00"))


def _b64decode_int(data: bytes) -> int:
    """The inverse of :func:`_b64encode_int`."""
    return int.from_bytes(_b64decode(data), "big")


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


class Signer(TimestampSigner):
    """itsdangerous's ``TimestampSigner`` for one key, through its extension points: the key
    is derived once and its HMAC state keyed once (each signature copies that state), the
    signature is compared as text (no decoding), and the clock is injectable.

    Every signature, made or checked, is computed by :meth:`get_signature`.
    """

    def __init__(self, key: str, clock: Callable[[], float], **options: Any) -> None:
        super().__init__(key, **options)
        self._clock = clock
        keyed = hmac.new(super().derive_key(), digestmod=self.digest_method)
        # CPython's OpenSSL-backed state, when there is one: the same object without the
        # pure-Python wrapper around each call.
        self._keyed: Any = getattr(keyed, "_hmac", keyed)

    def get_signature(self, value: str | bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(value if isinstance(value, bytes) else value.encode())
        return _b64encode(mac.digest())

    def verify_signature(self, value: str | bytes, sig: str | bytes) -> bool:
        expected = self.get_signature(value)
        return compare_digest(expected, sig if isinstance(sig, bytes) else sig.encode())

    def get_timestamp(self) -> int:
        return int(self._clock())

    def sign(self, value: str | bytes) -> bytes:
        return self.sign_at(value, self.get_timestamp())

    def sign_at(self, value: str | bytes, timestamp: int) -> bytes:
        """``TimestampSigner.sign`` with the timestamp given."""
        value = value if isinstance(value, bytes) else value.encode()
        value += b"." + _b64encode_int(timestamp)
        return value + b"." + self.get_signature(value)


class SessionCodec:
    """Turns session data into signed cookie values and back.

    ``keys`` is the current key first, then the fallbacks; ``cookie_name`` is bound into
    every signature. ``decode`` never raises: any bad value is ``None``, "no session".
    """

    def __init__(
        self,
        keys: Sequence[str],
        *,
        cookie_name: str = "session",
        max_age: int | None = None,
        absolute_lifetime: int | None = None,
        compress: bool = False,
        read_starlette_cookies: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ValueError("SessionCodec needs at least one key")
        self.max_age = max_age
        self.absolute_lifetime = absolute_lifetime
        self.compress = compress
        self.clock = clock
        now = self._now
        salt = SALT + b":" + cookie_name.encode("latin-1")
        self._signers = [
            Signer(key, now, salt=salt, key_derivation="hmac", digest_method=hashlib.sha256)
            for key in keys
        ]
        # Starlette's SessionMiddleware: TimestampSigner(secret_key) with every default.
        self._legacy = (
            [Signer(key, now, digest_method=hashlib.sha1) for key in keys]
            if read_starlette_cookies
            else []
        )

    @classmethod
    def from_settings(cls, settings: SessionSettings) -> SessionCodec:
        """The codec for ``settings``: its keys, cookie name, ``max_age`` and lifetime options;
        a :class:`~sessionkit.sealing.SealedCodec` when ``settings.encrypt`` is on."""
        codec: type[SessionCodec] = cls
        if settings.encrypt:  # compress is refused with it, at validation
            from sessionkit.sealing import SealedCodec

            codec = SealedCodec
        return codec(
            settings.signing_keys(),
            cookie_name=settings.session_cookie,
            max_age=settings.max_age,
            absolute_lifetime=settings.absolute_lifetime,
            compress=settings.compress,
            read_starlette_cookies=settings.read_starlette_cookies,
        )

    def _now(self) -> float:
        return self.clock()

    @staticmethod
    def dumps(data: Mapping[str, Any]) -> bytes:
        """The session's compact JSON, the form that is signed and compared."""
        return render_dict(data) if isinstance(data, dict) else pydantic_core.to_json(data)

    def encode(self, data: Mapping[str, Any], *, created_at: int | None = None) -> str:
        """A signed cookie value holding ``data``."""
        return self.sign(self.dumps(data), created_at=created_at)

    def sign(self, payload: bytes, *, created_at: int | None = None) -> str:
        """A signed cookie value for the JSON ``payload`` (as made by :meth:`dumps`).

        Raises :class:`~sessionkit.SessionUnreadableError` when :meth:`decode` would refuse
        the payload: the session would be written, then silently dropped.
        """
        _check_readable(payload)
        body = _b64encode(payload)
        if self.compress:
            if len(payload) > _MAX_INFLATED:
                raise SessionUnreadableError(
                    f"the session's JSON is {len(payload)} bytes, over the {_MAX_INFLATED}-byte "
                    f"limit on what a compressed cookie may inflate to",
                    limit=_MAX_INFLATED,
                )
            packed = zlib.compress(payload, 6)
            if len(packed) < len(payload):
                body = b"." + _b64encode(packed)
        now = int(self.clock())  # one reading for both timestamps
        body += b"." + _b64encode_int(now if created_at is None else created_at)
        return self._signers[0].sign_at(body, now).decode("ascii")

    def decode(self, cookie: str | bytes) -> Decoded | None:
        """The verified session in ``cookie``, or ``None`` if it is bad in any way.

        This runs on every request that uses a session, so it is written in one function
        (its helpers are one-line base64 calls).
        """
        try:
            token = cookie if isinstance(cookie, bytes) else cookie.encode("ascii")
            body, _, signature = token.rpartition(b".")
            size = len(signature)
            if size == _SIGNATURE_LENGTH:
                signers, legacy = self._signers, False
            elif size == _LEGACY_SIGNATURE_LENGTH and self._legacy:
                signers, legacy = self._legacy, True
            else:
                return self._reject("malformed")
            for signer in signers:
                if signer.verify_signature(body, signature):
                    break
            else:
                return self._reject("bad signature")
            value, _, timestamp = body.rpartition(b".")
            signed_at = _b64decode_int(timestamp)
            if legacy:
                packed, created_at = value, signed_at
            else:
                packed, _, created = value.rpartition(b".")
                created_at = _b64decode_int(created)
            problem = lifetime_problem(self, signed_at, created_at)
            if problem is not None:
                return self._reject(problem)
            if legacy:
                payload = base64.b64decode(packed, validate=True)
            else:
                payload = _inflate(packed[1:]) if packed[:1] == b"." else _b64decode(packed)
            data = from_json(payload)
            if type(data) is not dict:
                return self._reject("not a JSON object")
            stale = legacy or signer is not signers[0]
            return _new_decoded(Decoded, (data, payload, signed_at, created_at, stale))
        except Exception as exc:
            # The trust boundary: whatever a client sends, the answer is "no session".
            logger.debug("session cookie rejected: %s", type(exc).__name__)
            return None

    @staticmethod
    def _reject(reason: str) -> None:
        logger.debug("session cookie rejected: %s", reason)
        return None


def lifetime_problem(codec: SessionCodec | IdCodec, signed_at: int, created_at: int) -> str | None:
    """Why a cookie signed (or sealed) at ``signed_at`` for a session first issued at
    ``created_at`` is no longer valid under ``codec``'s lifetimes and clock; ``None`` if it is.

    Every cookie format checks its authenticated times here, so the rules are one.
    """
    now = codec.clock()
    if codec.max_age is not None and now - signed_at > codec.max_age:
        return "expired"
    if signed_at - now > _CLOCK_SKEW:
        return "signed in the future"
    if codec.absolute_lifetime is not None and now - created_at > codec.absolute_lifetime:
        return "past its absolute lifetime"
    return None


def _inflate(packed: bytes) -> bytes:
    """A compressed payload's JSON; a ValueError past the size limit (a zip bomb)."""
    inflater = zlib.decompressobj()
    payload = inflater.decompress(_b64decode(packed), _MAX_INFLATED)
    if inflater.unconsumed_tail or not inflater.eof:
        raise ValueError("compressed payload inflates past the limit or is truncated")
    return payload


# A cookie holds at most 4 KB; inflating past this is a zip bomb, not a session.
_MAX_INFLATED = 1 << 20

# JSON nests at most this deep without a check: pydantic-core's reader refuses about 200
# levels and its writer about 255, so deeper content is parsed once before it is written.
_UNCHECKED_DEPTH = 128


def _check_readable(payload: bytes) -> None:
    """Raise :class:`SessionUnreadableError` if ``from_json`` would refuse ``payload``.

    Nesting cannot be deeper than the count of opening brackets, so only a payload with
    many of them (two C-level counts) is parsed to be sure.
    """
    if payload.count(b"[") + payload.count(b"{") <= _UNCHECKED_DEPTH:
        return
    try:
        from_json(payload)
    except ValueError as exc:
        raise SessionUnreadableError(
            f"the session's JSON cannot be read back ({exc}): it nests deeper than the "
            f"reader allows, about 200 levels",
            limit=200,
        ) from None


#: Random bytes in a server-side session id (256 bits), written as 43 URL-safe characters.
ID_BYTES = 32
ID_SALT = b"sessionkit.session-id"  #: followed by b":" and the cookie's name


class VerifiedId(NamedTuple):
    """A session id whose cookie verified."""

    id: str
    #: when the cookie was signed (Unix seconds)
    signed_at: int
    #: signed with a fallback key: re-sign it when it is used
    stale: bool


class IdCodec:
    """The cookie of a server-side session: ``ID.TIMESTAMP.SIGNATURE``.

    ``ID`` is :data:`ID_BYTES` random bytes, URL-safe base64; the rest is itsdangerous's
    ``TimestampSigner`` format with HMAC-SHA256 and a key derived from the secret key under a
    purpose of its own (so no data cookie is ever an id, nor the reverse) and the cookie
    name. A forged or expired cookie is refused here, without asking the store.
    """

    def __init__(
        self,
        keys: Sequence[str],
        *,
        cookie_name: str = "session",
        max_age: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ValueError("IdCodec needs at least one key")
        self.max_age = max_age
        self.absolute_lifetime: int | None = None  # the store enforces a session's own
        self.clock = clock
        salt = ID_SALT + b":" + cookie_name.encode("latin-1")
        now = self._now
        self._signers = [
            Signer(key, now, salt=salt, key_derivation="hmac", digest_method=hashlib.sha256)
            for key in keys
        ]

    def _now(self) -> float:
        return self.clock()

    @staticmethod
    def new_id() -> str:
        """A new random session id."""
        return secrets.token_urlsafe(ID_BYTES)

    def sign(self, session_id: str) -> str:
        """The cookie value carrying ``session_id``, signed now with the current key."""
        return self._signers[0].sign(session_id).decode("ascii")

    def verify(self, cookie: bytes) -> VerifiedId | None:
        """The id in ``cookie`` if its signature verifies and it has not expired; else ``None``."""
        try:
            body, _, signature = cookie.rpartition(b".")
            session_id, _, timestamp = body.partition(b".")
            if len(signature) != _SIGNATURE_LENGTH or len(session_id) != _ID_LENGTH:
                return None
            for signer in self._signers:
                if signer.verify_signature(body, signature):
                    break
            else:
                return None
            signed_at = _b64decode_int(timestamp)
            if lifetime_problem(self, signed_at, signed_at) is not None:
                return None
            return VerifiedId(session_id.decode("ascii"), signed_at, signer is not self._signers[0])
        except Exception:  # the trust boundary: whatever a client sends is "no id"
            return None


_ID_LENGTH = 43  # URL-safe base64 of ID_BYTES, unpadded
