"""Instructions per request, counted by valgrind's callgrind: a measure that does not move.

Wall and CPU clocks on a shared virtual machine drift by tens of percent from one minute to
the next; instruction counts are the same on every run of the same code. Each
(scenario, flavor) pair runs in its own ``valgrind --tool=callgrind`` process, which counts
only inside the measured loop: the loop runs inside ``collections.deque()`` and callgrind
collects only while ``deque_init`` is on the stack (``--toggle-collect``), so imports,
set-up and warm-up are left out. Every request must complete without a real await (true of
these apps, whose ``receive`` and ``send`` return at once), so no event loop is involved.

Run ``python -m benchmarks.instructions`` (needs Debian's ``valgrind``; about 20 s per pair,
two pairs at a time). Overheads and ratios are over the bare app, as in the timed suite;
the minimal middleware on sessionkit's codec (``minimal.py``) and sealed cookies
(``encrypt=True``) are counted too.

``--stores`` counts the Redis store's scenarios instead (``stores.py``: sessionkit's Redis
store beside starsessions', on a real redis-server started here). Those requests do await
Redis, so each runs in an event loop; the loop's own instructions are counted, as they are
part of a round trip, but not redis-server's nor the kernel's. On a loopback Redis the
round trips' system time and the caches they evict weigh more than instructions do: the
timed ratios are the higher ones.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import secrets
import subprocess
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, cast

from . import stores
from .apps import IN_PROCESS_FLAVORS
from .inprocess import SCENARIOS, call, cookie_value, make_scope, prepare, run_batch

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from starlette.types import ASGIApp, Message, Scope

REQUESTS = 200
_COLLECTED = re.compile(r"Collected : (\d+)")
_MESSAGE: Message = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> Message:
    return _MESSAGE


async def _send(message: Message) -> None:
    return None


def _request(app: ASGIApp, scope: Scope) -> bool:
    """One request, run to completion without an event loop."""
    coroutine = cast("Coroutine[object, None, None]", app(dict(scope), _receive, _send))
    try:
        coroutine.send(None)
    except StopIteration:
        return True
    raise RuntimeError("the request awaited something real; it cannot be counted this way")


def run_loop(scenario: str, flavor: str) -> None:
    """The measured process: warm up, then REQUESTS requests inside deque()."""
    bench = asyncio.run(prepare("k" + secrets.token_urlsafe(32)))
    app = bench.apps[flavor]  # type: ignore[index]
    scope = bench.scopes[scenario, flavor]  # type: ignore[index]
    for _ in range(50):
        _request(app, scope)
    gc.collect()
    gc.disable()  # a collection's cost depends on the whole heap, not on the request
    deque((_request(app, scope) for _ in range(REQUESTS)), maxlen=0)


def run_store_loop(scenario: str, flavor: stores.StoreFlavor, url: str) -> None:
    """The measured process of ``--stores``: the app's lifespan started, warm up, then
    REQUESTS requests in an event loop, inside deque()."""
    path = next(s for s in stores.STORE_SCENARIOS if s.key == scenario)

    async def prepared() -> tuple[ASGIApp, Scope, asyncio.Task[None]]:
        app = stores.build_store_app(flavor, "k" + secrets.token_urlsafe(32), url, [])
        running = asyncio.create_task(stores.lifespan(app, asyncio.Event()))  # to the end
        await asyncio.sleep(0.05)
        cookie = None
        if flavor != "bare" and path.cookie:
            cookie = cookie_value(await call(app, make_scope("/login", None)))
        scope = make_scope(path.path, cookie)
        await run_batch(app, scope, 50)
        return app, scope, running

    loop = asyncio.new_event_loop()
    app, scope, _running = loop.run_until_complete(prepared())
    gc.collect()
    gc.disable()
    deque((loop.run_until_complete(run_batch(app, scope, REQUESTS)) for _ in "1"), maxlen=0)


def count(scenario: str, flavor: str, url: str | None = None) -> int:
    """Instructions per request for one pair, from a callgrind run of :func:`run_loop`
    (or, given Redis's ``url``, of :func:`run_store_loop`)."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += ["--collect-atstart=no", "--toggle-collect=deque_init"]
    command += [sys.executable, "-m", "benchmarks.instructions", "--loop", scenario, flavor]
    if url is not None:
        command += ["--redis", url]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    match = _COLLECTED.search(result.stderr)
    if match is None:
        raise RuntimeError(f"no callgrind total for {scenario}/{flavor}: {result.stderr[-500:]}")
    return int(match[1]) // REQUESTS


def report(keys: list[str]) -> str:
    """A Markdown table of instructions per request, overheads and ratios."""
    pairs = [(key, flavor) for key in keys for flavor in IN_PROCESS_FLAVORS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(pairs, pool.map(lambda pair: count(*pair), pairs), strict=True))
    lines = [
        "| scenario | bare | Starlette overhead | sessionkit overhead | ratio | target "
        "| minimal overhead | minimal ratio | sealed overhead | sealed ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        if scenario.key not in keys:
            continue
        bare = counts[scenario.key, "bare"]
        theirs = counts[scenario.key, "starlette"] - bare
        ours = counts[scenario.key, "sessionkit"] - bare
        least = counts[scenario.key, "minimal"] - bare
        sealed = counts[scenario.key, "sealed"] - bare
        lines.append(
            f"| {scenario.label} | {bare:,} | {theirs:,} | {ours:,} | {ours / theirs:.2f} "
            f"| {scenario.limit} | {least:,} | {least / theirs:.2f} "
            f"| {sealed:,} | {sealed / theirs:.2f} |"
        )
    return "\n".join(lines)


def store_report() -> str:
    """A Markdown table of instructions per request on the Redis stores."""
    pairs = [(s.key, flavor) for s in stores.STORE_SCENARIOS for flavor in stores.STORE_FLAVORS]
    with stores.pinned_redis() as url, ThreadPoolExecutor(max_workers=2) as pool:
        # callgrind's counts do not depend on where it runs: both CPUs, not redis-server's
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
        counts = dict(
            zip(pairs, pool.map(lambda pair: count(pair[0], pair[1], url), pairs), strict=True)
        )
    lines = [
        "| scenario | bare | starsessions overhead | sessionkit overhead | ratio | target |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in stores.STORE_SCENARIOS:
        bare = counts[scenario.key, "bare"]
        theirs = counts[scenario.key, "starsessions"] - bare
        ours = counts[scenario.key, "sessionkit"] - bare
        target = "—" if scenario.target is None else f"≤ {scenario.target:.2f}"
        lines.append(
            f"| {scenario.label} | {bare:,} | {theirs:,} | {ours:,} | {ours / theirs:.2f} "
            f"| {target} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("--loop", nargs=2, metavar=("SCENARIO", "FLAVOR"), help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("--scenarios", nargs="*", help="scenario keys (default: all)")
    parser.add_argument(
        "--stores", action="store_true", help="the Redis store's scenarios (needs redis-server)"
    )
    args = parser.parse_args()
    if args.loop:
        if args.redis:
            run_store_loop(args.loop[0], cast("stores.StoreFlavor", args.loop[1]), args.redis)
        else:
            run_loop(*args.loop)
        return
    if args.stores:
        print("Instructions per request on the Redis stores (callgrind), over the bare app:\n")
        print(store_report())
        return
    keys = args.scenarios or [scenario.key for scenario in SCENARIOS]
    print("Instructions per request (callgrind), over the bare app:\n")
    print(report(keys))


if __name__ == "__main__":
    main()
