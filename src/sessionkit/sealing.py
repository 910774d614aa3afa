"""Sealed (encrypted and authenticated) session cookies for ``encrypt=True``; no ASGI here.

A sealed cookie value is ``~1`` followed by ``NONCE || CIPHERTEXT || TAG`` in URL-safe base64
without padding:

- ``~1``: ``~`` is never the first character of a signed cookie (their JSON starts with
  ``{``, base64 ``e``; a compressed one with ``.``), so the first byte tells the formats
  apart; ``1`` is the format's version;
- ``NONCE``: 24 fresh random bytes per cookie. The first 12 choose the cookie's own key,
  ``HKDF-Expand(K, COOKIE_KEY_INFO || NONCE[:12], 32)``; the last 12 are the AES-GCM nonce.
  This is the shape of XAES-256-GCM (C2SP), with HKDF for the derivation;
- ``K``: ``HKDF-SHA256(secret key, info=SEAL_INFO)`` for ``secret_key`` and each fallback,
  never the raw secret and never the signing key (which itsdangerous derives with HMAC and
  another salt); another purpose gets another ``info``;
- ``CIPHERTEXT || TAG``: AES-256-GCM of ``SIGNED_AT || CREATED_AT || JSON`` (two signed
  64-bit big-endian Unix times, then the session's compact JSON), with the associated data
  ``AAD_PREFIX || cookie name``: the format version and the cookie's name are authenticated,
  so a value sealed for one cookie name is no session under another.

Why 24 bytes of nonce: with plain 96-bit random nonces under one key, 2^40 cookies collide
with probability about 2^80 / 2^97 = 2^-17, and a repeated (key, nonce) pair breaks GCM. Here
a collision needs all 192 bits to repeat: about 2^80 / 2^193 = 2^-113, far below 2^-32.
AES-GCM-SIV would also survive repeats, but it needs OpenSSL 3.2 or later, which many
systems' ``cryptography`` builds lack; AES-GCM runs everywhere ``cryptography`` does.

Signed cookies (sessionkit's, and Starlette's if ``read_starlette_cookies``) are still read,
and marked stale, so the middleware re-issues them sealed: turning encryption on logs nobody
out. Expiry, clock skew and the absolute lifetime follow the signed codec's rules
(:func:`sessionkit.codec.lifetime_problem`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import time
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic_core import from_json

from sessionkit.codec import (
    SEALED_PREFIX,
    Decoded,
    SessionCodec,
    _b64decode,
    _b64encode,
    _check_readable,
    lifetime_problem,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["AAD_PREFIX", "COOKIE_KEY_INFO", "SEAL_INFO", "SealedCodec", "derive_key"]

SEAL_INFO = b"sessionkit/v1 sealed cookie sessions"  #: HKDF info of the sealing keys
COOKIE_KEY_INFO = b"sessionkit/v1 cookie key:"  #: followed by the first half of the nonce
AAD_PREFIX = b"sessionkit/v1 sealed cookie:"  #: followed by the cookie's name

_MARK = SEALED_PREFIX.encode("ascii")
_NONCE_SIZE = 24
_HALF = _NONCE_SIZE // 2
_TIMES = struct.Struct(">qq")  # SIGNED_AT, CREATED_AT
_TAG_SIZE = 16
_SMALLEST = _NONCE_SIZE + _TIMES.size + len(b"{}") + _TAG_SIZE


def derive_key(secret: str, info: bytes = SEAL_INFO) -> bytes:
    """The 32-byte key that ``secret`` gives for the purpose named by ``info`` (HKDF-SHA256)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
    return hkdf.derive(secret.encode("utf-8"))


class SealedCodec(SessionCodec):
    """A :class:`~sessionkit.SessionCodec` whose cookies are sealed rather than only signed.

    The same interface: :meth:`sign` seals the JSON payload with the current key,
    :meth:`decode` opens a sealed value with any key (a fallback marks it stale) or reads a
    signed one (always stale, to be re-issued sealed). ``random`` supplies the nonces.
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
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if compress:
            raise ValueError(
                "a sealed cookie is never compressed: its length would reveal its content"
            )
        super().__init__(
            keys,
            cookie_name=cookie_name,
            max_age=max_age,
            absolute_lifetime=absolute_lifetime,
            read_starlette_cookies=read_starlette_cookies,
            clock=clock,
        )
        self.random = random
        self._aad = AAD_PREFIX + cookie_name.encode("latin-1")
        # One keyed HMAC state per key; each cookie's key copies it (HKDF-Expand, one block).
        self._expanders: list[Any] = []
        for key in keys:
            keyed = hmac.new(derive_key(key), digestmod=hashlib.sha256)
            self._expanders.append(getattr(keyed, "_hmac", keyed))

    def _cipher(self, expander: Any, nonce: bytes) -> AESGCM:
        """The AES-256-GCM cipher of the cookie whose nonce is ``nonce``."""
        mac = expander.copy()
        mac.update(COOKIE_KEY_INFO + nonce[:_HALF] + b"\x01")
        cookie_key: bytes = mac.digest()
        return AESGCM(cookie_key)

    def sign(self, payload: bytes, *, created_at: int | None = None) -> str:
        """A sealed cookie value for the JSON ``payload`` (as made by :meth:`dumps`).

        Raises :class:`~sessionkit.SessionUnreadableError` when :meth:`decode` would refuse
        the payload.
        """
        _check_readable(payload)
        now = int(self.clock())
        plaintext = _TIMES.pack(now, now if created_at is None else created_at) + payload
        nonce = self.random(_NONCE_SIZE)
        if len(nonce) != _NONCE_SIZE:
            raise ValueError(f"the random source gave {len(nonce)} bytes, not {_NONCE_SIZE}")
        sealed = self._cipher(self._expanders[0], nonce).encrypt(
            nonce[_HALF:], plaintext, self._aad
        )
        return SEALED_PREFIX + _b64encode(nonce + sealed).decode("ascii")

    def decode(self, cookie: str | bytes) -> Decoded | None:
        """The session in ``cookie`` (sealed, or signed for migration), or ``None`` if it is
        bad in any way."""
        token = cookie if isinstance(cookie, bytes) else cookie.encode("ascii", "replace")
        if token[:2] != _MARK:
            signed = super().decode(token)
            return None if signed is None else signed._replace(stale=True)
        try:
            text = token[2:]
            raw = _b64decode(text)
            if len(raw) < _SMALLEST or _b64encode(raw) != text:  # one spelling per value
                return self._reject("malformed")
            nonce, sealed = raw[:_NONCE_SIZE], raw[_NONCE_SIZE:]
            for expander in self._expanders:
                try:
                    plaintext = self._cipher(expander, nonce).decrypt(
                        nonce[_HALF:], sealed, self._aad
                    )
                except Exception:  # noqa: S112  (InvalidTag: another key may open it)
                    continue
                break
            else:
                return self._reject("cannot be opened")
            signed_at, created_at = _TIMES.unpack_from(plaintext)
            problem = lifetime_problem(self, signed_at, created_at)
            if problem is not None:
                return self._reject(problem)
            payload = plaintext[_TIMES.size :]
            data = from_json(payload)
            if type(data) is not dict:
                return self._reject("not a JSON object")
            stale = expander is not self._expanders[0]
            return Decoded(data, payload, signed_at, created_at, stale)
        except Exception as exc:
            # The trust boundary: whatever a client sends, the answer is "no session".
            return self._reject(type(exc).__name__)
