"""Server-side stores: sessionkit's Redis store beside starsessions' ``RedisStore``.

starsessions is the common ASGI choice for sessions in Redis; its usual set-up is its
``SessionMiddleware`` with a ``RedisStore`` and ``SessionAutoloadMiddleware`` (which loads the
session before the app runs, as the ASGI ``request.session`` is synchronous). Both
middlewares get the same app, the same key and a real ``redis-server`` started here on a free
127.0.0.1 port.

A loopback round trip costs about 100 µs when client and server share a core, and about
500 µs when the scheduler puts them on different cores, which would drown the difference
being measured; so ``redis-server`` runs under ``taskset`` on CPU 0, and so does this
process (``os.sched_setaffinity``) for the run. Timing is wall-clock (the server's work is
part of each request), flavors interleaved round-robin in each round, overhead = app - bare
paired per round, ratio = sessionkit's overhead / starsessions'. Redis commands per request
come from ``INFO commandstats`` (a script's inner commands counted once as the script).
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sessionkit import SessionSettings

from .apps import SMALL, USER_NAME
from .inprocess import Reply, call, cookie_value, make_scope, run_batch, spread

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.requests import Request
    from starlette.types import ASGIApp, Message

StoreFlavor = Literal["bare", "sessionkit", "starsessions"]
STORE_FLAVORS: tuple[StoreFlavor, ...] = ("bare", "sessionkit", "starsessions")


@dataclass(frozen=True)
class StoreScenario:
    key: str
    label: str
    path: str
    cookie: bool
    target: float | None
    body: str


STORE_SCENARIOS: tuple[StoreScenario, ...] = (
    StoreScenario("no_cookie", "no cookie, session untouched", "/untouched", False, None, "ok"),
    StoreScenario("untouched", "cookie, session untouched", "/untouched", True, 0.55, "ok"),
    StoreScenario("read", "small session read", "/read", True, 0.55, USER_NAME),
    StoreScenario("write", "small session write", "/write", True, 1.0, "written"),
)

#: Commands of the benchmark's own inspection connection, not of a store.
_INSPECTION = {"info", "hello", "client|setinfo", "config|resetstat", "select", "ping", "flushall"}


def build_store_app(
    flavor: StoreFlavor, secret_key: str, url: str, clients: list[Any]
) -> Starlette:
    """The benchmark app on ``flavor``'s store; Redis clients to close go to ``clients``."""
    bare = flavor == "bare"

    async def untouched(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def read(request: Request) -> PlainTextResponse:
        if bare:
            return PlainTextResponse(USER_NAME)
        user = request.session.get("user")
        return PlainTextResponse(user["name"] if user else "anonymous")

    async def write(request: Request) -> PlainTextResponse:
        if not bare:
            request.session["visits"] = request.session.get("visits", 0) + 1
        return PlainTextResponse("written")

    async def login(request: Request) -> PlainTextResponse:
        if not bare:
            request.session.update(SMALL)
        return PlainTextResponse("ok")

    routes = [
        Route("/untouched", untouched),
        Route("/read", read),
        Route("/write", write),
        Route("/login", login),
    ]
    return Starlette(routes=routes, middleware=_middleware(flavor, secret_key, url, clients))


def _middleware(
    flavor: StoreFlavor, secret_key: str, url: str, clients: list[Any]
) -> list[Middleware]:
    if flavor == "bare":
        return []
    if flavor == "sessionkit":
        config = {"secret_key": secret_key, "store": "redis", "redis_url": url}
        return [SessionSettings.from_config(config).middleware()]
    import redis.asyncio
    from starsessions import SessionAutoloadMiddleware
    from starsessions import SessionMiddleware as StarSessionMiddleware
    from starsessions.stores.redis import RedisStore

    client = redis.asyncio.Redis.from_url(url)  # starsessions never closes it
    clients.append(client)
    store = RedisStore(connection=client)
    return [
        Middleware(StarSessionMiddleware, store=store, lifetime=14 * 24 * 3600, rolling=False),
        Middleware(SessionAutoloadMiddleware),
    ]


@dataclass
class StoreTimings:
    rounds: int
    batch: int
    samples: dict[tuple[str, StoreFlavor], list[float]]
    commands: dict[tuple[str, StoreFlavor], dict[str, float]]

    def overheads(self, key: str, flavor: StoreFlavor) -> list[float]:
        pairs = zip(self.samples[key, flavor], self.samples[key, "bare"], strict=True)
        return [timed - base for timed, base in pairs]


def redis_available() -> bool:
    return shutil.which("redis-server") is not None and _installed("starsessions", "redis")


def _installed(*modules: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(module) is not None for module in modules)


@contextmanager
def pinned_redis() -> Iterator[str]:
    """A redis-server on CPU 0 and a free loopback port, and this process on CPU 0 too."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tempfile.mkdtemp(prefix="bench-redis-")
    command = ["taskset", "-c", "0", "redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--dir", directory]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        _wait_for(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        os.sched_setaffinity(0, affinity)
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server on port {port} did not start")


async def lifespan(app: ASGIApp, stop: asyncio.Event) -> None:
    """Run the app's lifespan: sessionkit keeps its connections for the app's life."""
    started = False

    async def receive() -> Message:
        nonlocal started
        if not started:
            started = True
            return {"type": "lifespan.startup"}
        await stop.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        return None

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)


async def measure_stores(secret_key: str, url: str, rounds: int, batch: int) -> StoreTimings:
    """Check each scenario, time them interleaved, and count each one's Redis commands."""
    import redis.asyncio

    clients: list[Any] = []
    apps = {flavor: build_store_app(flavor, secret_key, url, clients) for flavor in STORE_FLAVORS}
    stop = asyncio.Event()
    lifespans = [asyncio.create_task(lifespan(app, stop)) for app in apps.values()]
    await asyncio.sleep(0.05)
    inspector = redis.asyncio.Redis.from_url(url)
    try:
        scopes = {}
        for flavor in STORE_FLAVORS:
            cookie = None
            if flavor != "bare":
                cookie = cookie_value(await call(apps[flavor], make_scope("/login", None)))
            for scenario in STORE_SCENARIOS:
                scopes[scenario.key, flavor] = make_scope(
                    scenario.path, cookie if scenario.cookie else None
                )
        for (key, flavor), scope in scopes.items():
            reply: Reply = await call(apps[flavor], scope)
            expected = next(s.body for s in STORE_SCENARIOS if s.key == key)
            assert reply.status == 200, f"{key}/{flavor}: {reply.status}"
            assert reply.body.decode() == expected, f"{key}/{flavor}: {reply.body!r}"
        samples: dict[tuple[str, StoreFlavor], list[float]] = {k: [] for k in scopes}
        for round_ in range(rounds + 1):
            shift = round_ % len(STORE_FLAVORS)
            order = STORE_FLAVORS[shift:] + STORE_FLAVORS[:shift]
            for scenario in STORE_SCENARIOS:
                for flavor in order:
                    gc.collect()
                    app, scope = apps[flavor], scopes[scenario.key, flavor]
                    elapsed = await run_batch(app, scope, batch)
                    if round_:
                        samples[scenario.key, flavor].append(elapsed / batch / 1000)
        commands = {}
        for (key, flavor), scope in scopes.items():
            await inspector.config_resetstat()
            for _ in range(100):
                await apps[flavor](dict(scope), _receive_nothing, _discard)
            stats = await inspector.info("commandstats")
            commands[key, flavor] = {
                name.removeprefix("cmdstat_"): int(value["calls"]) / 100
                for name, value in stats.items()
                if name.removeprefix("cmdstat_") not in _INSPECTION
            }
        return StoreTimings(rounds, batch, samples, commands)
    finally:
        stop.set()
        await asyncio.gather(*lifespans)
        for client in [inspector, *clients]:
            await client.aclose()


async def _receive_nothing() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(message: Message) -> None:
    return None


def stores_table(timings: StoreTimings) -> str:
    lines = [
        "| scenario | bare µs | starsessions µs | sessionkit µs | starsessions overhead µs "
        "| sessionkit overhead µs | ratio | target | result | starsessions commands "
        "| sessionkit commands |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in STORE_SCENARIOS:
        key = scenario.key
        median = {f: statistics.median(timings.samples[key, f]) for f in STORE_FLAVORS}
        theirs = timings.overheads(key, "starsessions")
        ours = timings.overheads(key, "sessionkit")
        ratio = statistics.median(ours) / statistics.median(theirs)
        target = "—" if scenario.target is None else f"≤ {scenario.target:.2f}"
        verdict = (
            "—" if scenario.target is None else ("PASS" if ratio <= scenario.target else "MISS")
        )
        theirs_cell = f"{statistics.median(theirs):.1f} ± {spread(theirs):.1f}"
        ours_cell = f"{statistics.median(ours):.1f} ± {spread(ours):.1f}"
        lines.append(
            f"| {scenario.label} | {median['bare']:.1f} | {median['starsessions']:.1f} "
            f"| {median['sessionkit']:.1f} | {theirs_cell} "
            f"| {ours_cell} | {ratio:.2f} | {target} "
            f"| {verdict} | {_commands(timings, key, 'starsessions')} "
            f"| {_commands(timings, key, 'sessionkit')} |"
        )
    return "\n".join(lines)


def _commands(timings: StoreTimings, key: str, flavor: StoreFlavor) -> str:
    """Commands per request; a script (``evalsha``) is one round trip, and the commands it
    ran inside Redis follow it in parentheses."""
    counts = {name: count for name, count in timings.commands[key, flavor].items() if count}
    trips = {n: c for n, c in counts.items() if n in _ROUND_TRIPS or "evalsha" not in counts}
    inner = {n: c for n, c in counts.items() if n not in trips}
    text = ", ".join(f"{name} {count:g}" for name, count in sorted(trips.items())) or "none"
    if inner:
        text += " (" + ", ".join(f"{n} {c:g}" for n, c in sorted(inner.items())) + ")"
    return text


#: Commands that are round trips of their own when sessionkit's scripts are in use.
_ROUND_TRIPS = {"evalsha", "eval", "del"}


def main() -> None:
    """``python -m benchmarks.stores``: this comparison alone."""
    import argparse
    import secrets

    parser = argparse.ArgumentParser(prog="python -m benchmarks.stores")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--batch", type=int, default=50, help="requests per batch")
    args = parser.parse_args()
    with pinned_redis() as url:
        timings = asyncio.run(
            measure_stores(secrets.token_urlsafe(32), url, args.rounds, args.batch)
        )
    print(stores_table(timings))


if __name__ == "__main__":
    main()
