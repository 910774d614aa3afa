"""Signing and encoding of session cookies, with key rotation. Knows nothing of ASGI.

A sessionkit cookie value is ``[.]PAYLOAD.CREATED.TIMESTAMP.SIGNATURE``:

- ``PAYLOAD``: the session as compact JSON, URL-safe base64 without padding; a leading
  ``.`` marks a zlib-compressed payload;
- ``CREATED``: when the session was first issued (travels signed, for the absolute lifetime);
- ``TIMESTAMP`` and ``SIGNATURE``: itsdangerous's ``TimestampSigner`` format, HMAC-SHA256 with
  a key derived (HMAC) from the secret key and a sessionkit-specific salt.

Cookies written by Starlette's ``SessionMiddleware`` (standard base64 JSON, then
``TimestampSigner`` with its defaults: HMAC-SHA1, django-concat derivation) are read too, told
apart by the signature's length, so applications migrate without logging anyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic_core
from itsdangerous import TimestampSigner
from itsdangerous.encoding import base64_decode, base64_encode, bytes_to_int, int_to_bytes
from itsdangerous.signer import HMACAlgorithm

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from sessionkit.settings import SessionSettings

__all__ = ["Decoded", "SessionCodec"]

logger = logging.getLogger("sessionkit")

SALT = b"sessionkit.session"
_SIGNATURE_LENGTH = 43  # URL-safe base64 of a SHA-256 digest, unpadded
_LEGACY_SIGNATURE_LENGTH = 27  # the same for SHA-1: Starlette's SessionMiddleware
_CLOCK_SKEW = 60  # seconds a signature may seem to come from the future (servers' clocks)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A verified session cookie."""

    data: dict[str, Any]
    #: the session's JSON exactly as signed, to tell whether the content changed
    payload: bytes
    #: when the cookie was signed, and when the session was first issued (Unix seconds)
    signed_at: int
    created_at: int
    #: signed with a fallback key or in Starlette's format: re-sign it when it is used
    stale: bool


class _PrekeyedHMAC(HMACAlgorithm):
    """HMAC that keys each hash state once and copies it, instead of re-keying per call."""

    def __init__(self, digest_method: Any) -> None:
        super().__init__(digest_method)
        self._keyed: dict[bytes, hmac.HMAC] = {}

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        state = self._keyed.get(key)
        if state is None:
            state = self._keyed[key] = hmac.new(key, digestmod=self.digest_method)
        mac = state.copy()
        mac.update(value)
        return mac.digest()


class _Signer(TimestampSigner):
    """itsdangerous's TimestampSigner for one key, with the derived key cached and the
    clock injectable."""

    def __init__(self, key: str, clock: Callable[[], float], **options: Any) -> None:
        digest = options.pop("digest_method", hashlib.sha1)
        super().__init__(key, algorithm=_PrekeyedHMAC(digest), digest_method=digest, **options)
        self._clock = clock
        self._derived: dict[bytes | str | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        derived = self._derived.get(secret_key)
        if derived is None:
            derived = self._derived[secret_key] = super().derive_key(secret_key)
        return derived

    def get_timestamp(self) -> int:
        return int(self._clock())


class SessionCodec:
    """Turns session data into signed cookie values and back.

    ``keys`` is the current key first, then the fallbacks. ``decode`` never raises: any
    bad value is ``None``, "no session".
    """

    def __init__(
        self,
        keys: Sequence[str],
        *,
        max_age: int | None = None,
        absolute_lifetime: int | None = None,
        compress: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ValueError("SessionCodec needs at least one key")
        self.max_age = max_age
        self.absolute_lifetime = absolute_lifetime
        self.compress = compress
        self.clock = clock
        now = self._now
        self._signers = [
            _Signer(key, now, salt=SALT, key_derivation="hmac", digest_method=hashlib.sha256)
            for key in keys
        ]
        # Starlette's SessionMiddleware: TimestampSigner(secret_key) with every default.
        self._legacy = [_Signer(key, now) for key in keys]

    @classmethod
    def from_settings(cls, settings: SessionSettings) -> SessionCodec:
        """The codec for ``settings``: its keys, ``max_age`` and lifetime options."""
        return cls(
            settings.signing_keys(),
            max_age=settings.max_age,
            absolute_lifetime=settings.absolute_lifetime,
            compress=settings.compress,
        )

    def _now(self) -> float:
        return self.clock()

    @staticmethod
    def dumps(data: Mapping[str, Any]) -> bytes:
        """The session's compact JSON, the form that is signed and compared."""
        return pydantic_core.to_json(data)

    def encode(self, data: Mapping[str, Any], *, created_at: int | None = None) -> str:
        """A signed cookie value holding ``data``."""
        return self.sign(self.dumps(data), created_at=created_at)

    def sign(self, payload: bytes, *, created_at: int | None = None) -> str:
        """A signed cookie value for the JSON ``payload`` (as made by :meth:`dumps`)."""
        body = base64_encode(payload)
        if self.compress:
            packed = zlib.compress(payload, 6)
            if len(packed) < len(payload):
                body = b"." + base64_encode(packed)
        created = int(self.clock()) if created_at is None else created_at
        value = body + b"." + base64_encode(int_to_bytes(created))
        return self._signers[0].sign(value).decode("ascii")

    def decode(self, cookie: str | bytes) -> Decoded | None:
        """The verified session in ``cookie``, or ``None`` if it is bad in any way."""
        try:
            return self._decode(cookie.encode("ascii") if isinstance(cookie, str) else cookie)
        except Exception as exc:
            # The trust boundary: whatever a client sends, the answer is "no session".
            logger.debug("session cookie rejected: %s", type(exc).__name__)
            return None

    def _decode(self, token: bytes) -> Decoded | None:
        body, _, signature = token.rpartition(b".")
        if len(signature) == _SIGNATURE_LENGTH:
            signers, legacy = self._signers, False
        elif len(signature) == _LEGACY_SIGNATURE_LENGTH:
            signers, legacy = self._legacy, True
        else:
            return self._reject("malformed")
        index = next(
            (i for i, signer in enumerate(signers) if signer.verify_signature(body, signature)),
            None,
        )
        if index is None:
            return self._reject("bad signature")
        value, _, timestamp = body.rpartition(b".")
        signed_at = bytes_to_int(base64_decode(timestamp))
        now = self.clock()
        if self.max_age is not None and now - signed_at > self.max_age:
            return self._reject("expired")
        if signed_at - now > _CLOCK_SKEW:
            return self._reject("signed in the future")
        if legacy:
            payload, created_at = base64.b64decode(value), signed_at
        else:
            payload, created_at = self._unpack(value)
        if self.absolute_lifetime is not None and now - created_at > self.absolute_lifetime:
            return self._reject("past its absolute lifetime")
        data = pydantic_core.from_json(payload)
        if not isinstance(data, dict):
            return self._reject("not a JSON object")
        return Decoded(data, payload, signed_at, created_at, stale=legacy or index > 0)

    @staticmethod
    def _unpack(value: bytes) -> tuple[bytes, int]:
        body, _, created = value.rpartition(b".")
        if body.startswith(b"."):
            inflater = zlib.decompressobj()
            payload = inflater.decompress(base64_decode(body[1:]), _MAX_INFLATED)
            if inflater.unconsumed_tail or not inflater.eof:
                raise ValueError("compressed payload inflates past the limit or is truncated")
        else:
            payload = base64_decode(body)
        return payload, bytes_to_int(base64_decode(created))

    @staticmethod
    def _reject(reason: str) -> None:
        logger.debug("session cookie rejected: %s", reason)
        return None


# A cookie holds at most 4 KB; inflating past this is a zip bomb, not a session.
_MAX_INFLATED = 1 << 20
