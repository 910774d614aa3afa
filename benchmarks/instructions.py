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
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import secrets
import subprocess
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, cast

from .apps import IN_PROCESS_FLAVORS
from .inprocess import SCENARIOS, prepare

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


def count(scenario: str, flavor: str) -> int:
    """Instructions per request for one pair, from a callgrind run of :func:`run_loop`."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += ["--collect-atstart=no", "--toggle-collect=deque_init"]
    command += [sys.executable, "-m", "benchmarks.instructions", "--loop", scenario, flavor]
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("--loop", nargs=2, metavar=("SCENARIO", "FLAVOR"), help=argparse.SUPPRESS)
    parser.add_argument("--scenarios", nargs="*", help="scenario keys (default: all)")
    args = parser.parse_args()
    if args.loop:
        run_loop(*args.loop)
        return
    keys = args.scenarios or [scenario.key for scenario in SCENARIOS]
    print("Instructions per request (callgrind), over the bare app:\n")
    print(report(keys))


if __name__ == "__main__":
    main()
