"""In-process ASGI timing: the five flavors interleaved round-robin in one event loop.

Each request is a direct call of the application's ASGI callable with a copy of a
prebuilt scope and trivial ``receive``/``send``: no test client, no network, so the
microseconds a middleware adds are not swamped.

Why not pyperf or pytest-benchmark here: both time one benchmark to completion before
the next (pyperf in separate worker processes), so a drift during the run (CPU frequency,
a noisy neighbour on a shared 2-core machine) lands on one flavor and biases the ratio.
The comparison needs the flavors interleaved within each round, in one process,
so it reads a clock around many requests per batch and takes medians over rounds;
overheads are medians of per-round differences (paired with the bare app measured in
the same round). The clock is ``time.perf_counter_ns`` (wall) or, with ``--clock cpu``,
``time.thread_time_ns``: this thread's CPU time, which leaves out the slices the
scheduler gives other processes when the machine is shared and busy.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .apps import (
    ANONYMOUS,
    IN_PROCESS_FLAVORS,
    MIDDLEWARES,
    USER_NAME,
    CookieKind,
    Flavor,
    build_app,
    tamper,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Message, Scope


@dataclass(frozen=True)
class Scenario:
    """One kind of request, and the target for sessionkit's overhead ratio, if any."""

    key: str
    label: str
    path: str
    cookie: CookieKind
    target: float | None
    #: what a middleware's response must be: its body, and whether it sets the cookie
    body: str
    sets_cookie: bool

    @property
    def limit(self) -> str:
        """The target as the tables print it, or a dash when there is none."""
        return "—" if self.target is None else f"≤ {self.target:.2f}"

    def verdict(self, ratio: float, met: str, missed: str) -> str:
        """``met`` or ``missed`` as ``ratio`` meets the target, or a dash when there is none."""
        if self.target is None:
            return "—"
        return met if ratio <= self.target else missed


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("no_cookie", "no cookie, session untouched", "/untouched", "none", 0.3, "ok", False),
    Scenario("read_small", "small session read (~100 B)", "/read", "small", 0.35, USER_NAME, False),
    Scenario("write_small", "small session write", "/write", "small", 0.35, "2", True),
    Scenario("login", "new small session (no cookie, write)", "/login", "none", None, "ok", True),
    Scenario("read_large", "2.5 KB session read", "/read", "large", 0.6, USER_NAME, False),
    Scenario(
        "untouched_large", "2.5 KB cookie, untouched", "/untouched", "large", 0.05, "ok", False
    ),
    Scenario(
        "tampered", "tampered cookie, read (empty)", "/read", "tampered", 0.25, ANONYMOUS, False
    ),
    Scenario("key_read", "SessionKey model read", "/cart", "small", None, "3", False),
    Scenario("key_write", "SessionKey in-place write", "/cart/add", "small", None, "4", True),
)


@dataclass
class Reply:
    """What an application sent for one request."""

    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key == name), None)


_REQUEST: Message = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> Message:
    return _REQUEST


async def _discard(message: Message) -> None:
    return None


def make_scope(path: str, cookie: str | None) -> Scope:
    """An HTTP GET scope as uvicorn builds it, with the session cookie if given."""
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
    if cookie is not None:
        headers.append((b"cookie", b"session=" + cookie.encode("ascii")))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("ascii"),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def call(app: ASGIApp, scope: Scope) -> Reply:
    """Run one request and capture the response."""
    reply = Reply()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            reply.body += message.get("body", b"")

    await app(dict(scope), _receive, send)
    return reply


def cookie_value(reply: Reply) -> str:
    """The session cookie's value in the ``Set-Cookie`` of ``reply``."""
    header = reply.header(b"set-cookie")
    assert header is not None, "expected a Set-Cookie header"
    name, _, rest = header.decode("latin-1").partition("=")
    assert name == "session"
    return rest.split(";", 1)[0]


@dataclass
class Bench:
    """The applications and each scenario's prebuilt scope, per flavor."""

    apps: dict[Flavor, ASGIApp]
    cookies: dict[tuple[Flavor, CookieKind], str | None]
    scopes: dict[tuple[str, Flavor], Scope]


async def prepare(secret_key: str) -> Bench:
    """Build the apps, make each middleware's cookies with itself, and check every scenario."""
    apps: dict[Flavor, ASGIApp] = {
        flavor: build_app(flavor, secret_key) for flavor in IN_PROCESS_FLAVORS
    }
    cookies: dict[tuple[Flavor, CookieKind], str | None] = {}
    for flavor in MIDDLEWARES:
        small = cookie_value(await call(apps[flavor], make_scope("/login", None)))
        large = cookie_value(await call(apps[flavor], make_scope("/seed-large", None)))
        cookies[flavor, "none"] = None
        cookies[flavor, "small"] = small
        cookies[flavor, "large"] = large
        cookies[flavor, "tampered"] = tamper(small)
        assert 150 < len(small) < 400, f"{flavor}: small cookie of {len(small)} bytes"
        assert 2200 < len(large) < 2800, f"{flavor}: large cookie of {len(large)} bytes"
    for kind in ("none", "small", "large", "tampered"):
        cookies["bare", kind] = cookies["starlette", kind]  # the bare app ignores the cookie
        cookies["minimal", kind] = cookies["sessionkit", kind]  # the same codec and key
    scopes = {
        (scenario.key, flavor): make_scope(scenario.path, cookies[flavor, scenario.cookie])
        for scenario in SCENARIOS
        for flavor in IN_PROCESS_FLAVORS
    }
    bench = Bench(apps, cookies, scopes)
    await check(bench)
    return bench


async def check(bench: Bench) -> None:
    """Before timing: every scenario does what it says, for every middleware."""
    for scenario in SCENARIOS:
        for flavor in IN_PROCESS_FLAVORS:
            reply = await call(bench.apps[flavor], bench.scopes[scenario.key, flavor])
            where = f"{scenario.key} / {flavor}"
            assert reply.status == 200, f"{where}: status {reply.status}"
            if flavor == "bare":
                continue
            assert reply.body.decode() == scenario.body, f"{where}: body {reply.body!r}"
            sets = reply.header(b"set-cookie") is not None
            assert sets == scenario.sets_cookie, f"{where}: Set-Cookie {sets}"


#: ``wall``: elapsed time. ``cpu``: this thread's CPU time, which leaves out the time the
#: scheduler gives other processes: steadier on a shared, busy machine.
CLOCKS: dict[str, Callable[[], int]] = {"wall": time.perf_counter_ns, "cpu": time.thread_time_ns}


async def run_batch(
    app: ASGIApp, scope: Scope, count: int, clock: Callable[[], int] = time.perf_counter_ns
) -> int:
    """Nanoseconds for ``count`` requests, each on a fresh copy of ``scope``."""
    receive, send = _receive, _discard
    start = clock()
    for _ in range(count):
        await app(dict(scope), receive, send)
    return clock() - start


@dataclass
class Timings:
    """Per-round µs per request of each (scenario, flavor), and the batch sizes used."""

    rounds: int
    batch: dict[str, int]
    samples: dict[tuple[str, Flavor], list[float]]

    def median(self, key: str, flavor: Flavor) -> float:
        return statistics.median(self.samples[key, flavor])

    def differences(self, key: str, flavor: Flavor, baseline: Flavor) -> list[float]:
        """Per round, ``flavor``'s µs per request minus ``baseline``'s in the same round."""
        pairs = zip(self.samples[key, flavor], self.samples[key, baseline], strict=True)
        return [timed - base for timed, base in pairs]

    def overheads(self, key: str, flavor: Flavor) -> list[float]:
        """Per-round overhead over the bare app measured in the same round."""
        return self.differences(key, flavor, "bare")


async def calibrate(bench: Bench, batch_seconds: float) -> dict[str, int]:
    """Requests per batch for each scenario: ``batch_seconds`` for its slowest flavor."""
    sizes = {}
    probe = 200
    for scenario in SCENARIOS:
        slowest = 0
        for flavor in IN_PROCESS_FLAVORS:
            app, scope = bench.apps[flavor], bench.scopes[scenario.key, flavor]
            best = min([await run_batch(app, scope, probe, time.thread_time_ns) for _ in range(3)])
            slowest = max(slowest, best)
        per_request = slowest / probe / 1e9
        sizes[scenario.key] = max(50, min(20_000, round(batch_seconds / per_request)))
    return sizes


async def measure(
    bench: Bench, rounds: int, batch_seconds: float, clock: str = "wall", warmup: int = 1
) -> Timings:
    """Round-robin: each round runs every scenario on the five flavors in rotated order."""
    batch = await calibrate(bench, batch_seconds)
    timer = CLOCKS[clock]
    samples: dict[tuple[str, Flavor], list[float]] = {
        (scenario.key, flavor): [] for scenario in SCENARIOS for flavor in IN_PROCESS_FLAVORS
    }
    for round_ in range(warmup + rounds):
        shift = round_ % len(IN_PROCESS_FLAVORS)
        order = IN_PROCESS_FLAVORS[shift:] + IN_PROCESS_FLAVORS[:shift]
        for scenario in SCENARIOS:
            count = batch[scenario.key]
            for flavor in order:
                gc.collect()
                elapsed = await run_batch(
                    bench.apps[flavor], bench.scopes[scenario.key, flavor], count, timer
                )
                if round_ >= warmup:
                    samples[scenario.key, flavor].append(elapsed / count / 1000)
    return Timings(rounds, batch, samples)


def spread(values: list[float]) -> float:
    """Half the interquartile range: the noise around a median."""
    if len(values) < 4:
        return 0.0
    quartiles = statistics.quantiles(values, n=4)
    return (quartiles[2] - quartiles[0]) / 2
