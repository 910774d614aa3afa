"""The floor: what decoding and encoding a session costs with nothing around it.

Each operation is timed with the standard library's ``timeit`` (it fits here: plain
synchronous calls), interleaved round-robin like the request benchmarks, medians over
rounds. The hand-composed "floor" functions are the least work a signed-cookie session
can do: HMAC-SHA256 over a pre-keyed state, URL-safe base64, pydantic-core JSON. Their
tokens have sessionkit's shape (``PAYLOAD.CREATED.TIMESTAMP.SIGNATURE``) but are made
here, so the floor does not depend on sessionkit's internals.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import statistics
import time
import timeit
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import itsdangerous
import pydantic_core

from sessionkit.codec import SessionCodec

from .apps import LARGE, SMALL, settings_for

if TYPE_CHECKING:
    from collections.abc import Callable

SIZES = ("small", "large")
FLOOR_DECODE = "floor: decode + verify (hand-composed)"
CODEC_DECODE = "sessionkit codec.decode (verify + decode)"


def _b64encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64decode(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


class FloorCodec:
    """The least a signed-cookie session codec can do."""

    def __init__(self, secret_key: str) -> None:
        derived = hmac.new(secret_key.encode(), b"floor", hashlib.sha256).digest()
        self._keyed = hmac.new(derived, digestmod=hashlib.sha256)

    def _mac(self, body: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(body)
        return _b64encode(mac.digest())

    def encode(self, data: dict[str, Any], now: int = 1_700_000_000) -> bytes:
        stamp = _b64encode(now.to_bytes(4, "big"))
        body = b".".join((_b64encode(pydantic_core.to_json(data)), stamp, stamp))
        return body + b"." + self._mac(body)

    def decode(self, token: bytes) -> Any:
        body, _, signature = token.rpartition(b".")
        if not hmac.compare_digest(self._mac(body), signature):
            raise ValueError("bad signature")
        return pydantic_core.from_json(_b64decode(body.partition(b".")[0]))


def _hmac(keyed: hmac.HMAC, body: bytes) -> bytes:
    mac = keyed.copy()
    mac.update(body)
    return mac.digest()


def _starlette_decode(signer: itsdangerous.TimestampSigner, cookie: bytes) -> Any:
    """What Starlette's ``SessionMiddleware`` does with its cookie."""
    return json.loads(base64.b64decode(signer.unsign(cookie)))


def _starlette_encode(signer: itsdangerous.TimestampSigner, data: dict[str, Any]) -> bytes:
    return signer.sign(base64.b64encode(json.dumps(data).encode("utf-8")))


@dataclass
class FloorResult:
    """Median µs per call of each operation, per session size."""

    rounds: int
    micros: dict[tuple[str, str], float]

    def get(self, operation: str, size: str) -> float:
        return self.micros[operation, size]


def operations(
    secret_key: str, cookies: dict[str, tuple[str, str]]
) -> dict[tuple[str, str], Callable[[], object]]:
    """Every timed operation, per size; ``cookies[size]`` is (sessionkit's, Starlette's)."""
    floor = FloorCodec(secret_key)
    codec = SessionCodec.from_settings(settings_for(secret_key))
    signer = itsdangerous.TimestampSigner(secret_key)  # as Starlette's middleware builds it
    keyed = hmac.new(hashlib.sha256(secret_key.encode()).digest(), digestmod=hashlib.sha256)
    ops: dict[tuple[str, str], Callable[[], object]] = {}
    for size, data in (("small", SMALL), ("large", LARGE)):
        token = floor.encode(data)
        body = token.rpartition(b".")[0]
        payload = pydantic_core.to_json(data)
        encoded = _b64encode(payload)
        ours, theirs = cookies[size][0].encode(), cookies[size][1].encode()
        assert floor.decode(token) == data
        assert codec.decode(ours) is not None
        assert json.loads(base64.b64decode(signer.unsign(theirs))) == data

        ops.update(
            {
                ("HMAC-SHA256, pre-keyed (copy, update, digest)", size): partial(
                    _hmac, keyed, body
                ),
                ("base64 URL-safe decode", size): partial(_b64decode, encoded),
                ("base64 URL-safe encode", size): partial(_b64encode, payload),
                ("JSON parse (pydantic_core.from_json)", size): partial(
                    pydantic_core.from_json, payload
                ),
                ("JSON dump (pydantic_core.to_json)", size): partial(pydantic_core.to_json, data),
                (FLOOR_DECODE, size): partial(floor.decode, token),
                ("floor: encode + sign (hand-composed)", size): partial(floor.encode, data),
                (CODEC_DECODE, size): partial(codec.decode, ours),
                ("sessionkit codec.encode (dump + sign)", size): partial(codec.encode, data),
                ("Starlette: unsign + b64decode + json.loads", size): partial(
                    _starlette_decode, signer, theirs
                ),
                ("Starlette: json.dumps + b64encode + sign", size): partial(
                    _starlette_encode, signer, data
                ),
            }
        )
    return ops


def measure_floor(
    secret_key: str,
    cookies: dict[str, tuple[str, str]],
    rounds: int,
    batch_seconds: float,
    clock: str = "wall",
) -> FloorResult:
    """Median µs per call of every operation, interleaved round-robin over ``rounds``."""
    ops = operations(secret_key, cookies)
    read = {"wall": time.perf_counter, "cpu": time.thread_time}[clock]
    timers = {key: timeit.Timer(function, timer=read) for key, function in ops.items()}
    numbers = {}
    for key, timer in timers.items():
        probe = min(timer.repeat(3, 200)) / 200
        numbers[key] = max(200, round(batch_seconds / max(probe, 1e-9)))
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in timers}
    for round_ in range(rounds + 1):
        for key, timer in timers.items():
            seconds = timer.timeit(numbers[key])
            if round_:  # the first round warms up
                samples[key].append(seconds / numbers[key] * 1e6)
    return FloorResult(rounds, {key: statistics.median(values) for key, values in samples.items()})
