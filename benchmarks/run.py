"""The benchmark suite's command line: ``python -m benchmarks [options]``.

Runs, in one process: the in-process round-robin comparison of the bare app, Starlette's
``SessionMiddleware`` and sessionkit; the floor (codec primitives alone); optionally a
cProfile of sessionkit per scenario; then the throughput run under uvicorn. Prints a
Markdown report with PASS/MISS per target, and writes it to ``--results`` if given.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import report, stores
from .floor import FloorResult, measure_floor
from .inprocess import Bench, Timings, measure, prepare
from .profiling import Profile, hot_spots
from .server import Throughput, measure_throughput, serve

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .apps import Flavor


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark sessionkit against Starlette's SessionMiddleware and a bare app.",
    )
    parser.add_argument("--rounds", type=int, default=40, help="in-process rounds (default 40)")
    parser.add_argument(
        "--batch-ms", type=float, default=10.0, help="ms per batch of requests (default 10)"
    )
    parser.add_argument("--floor-rounds", type=int, default=15, help="floor rounds (default 15)")
    parser.add_argument("--server-rounds", type=int, default=5, help="uvicorn rounds (default 5)")
    parser.add_argument(
        "--server-requests",
        type=int,
        default=5000,
        help="requests per uvicorn batch (default 5000: /proc counts CPU time in 10 ms ticks)",
    )
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections (8)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: perf_counter_ns (default); cpu: thread CPU time, for a busy machine",
    )
    parser.add_argument("--no-server", action="store_true", help="skip the uvicorn run")
    parser.add_argument(
        "--no-redis",
        action="store_true",
        help="skip the Redis store run (it needs redis-server and starsessions)",
    )
    parser.add_argument("--profile", action="store_true", help="add sessionkit's hot spots")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run; noisy numbers")
    parser.add_argument("--results", type=Path, help="also write the report to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any target is missed")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.floor_rounds, args.server_rounds = 5, 5, 1
        args.batch_ms, args.server_requests = 4.0, 500
    return args


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def in_process(
    secret_key: str, args: argparse.Namespace
) -> tuple[Bench, Timings, Profile | None]:
    """Everything that runs on the one event loop: the checks, the timings, the profile."""
    bench = await prepare(secret_key)
    progress(f"scenarios checked; timing {args.rounds} interleaved rounds")
    timings = await measure(bench, args.rounds, args.batch_ms / 1000, args.clock)
    spots = None
    if args.profile:
        progress("profiling sessionkit per scenario")
        spots = await hot_spots(bench, count=2000, top=8)
    return bench, timings, spots


def render(
    command: str,
    bench: Bench,
    clock: str,
    timings: Timings,
    floor: FloorResult,
    throughput: Throughput | None,
    spots: Profile | None,
) -> tuple[str, list[report.Target]]:
    found = report.targets(timings, floor)
    batches = ", ".join(f"{key} {count}" for key, count in timings.batch.items())
    sizes = "; ".join(
        f"{flavor}: {len(str(bench.cookies[flavor, 'small']))} B and "
        f"{len(str(bench.cookies[flavor, 'large']))} B"
        for flavor in ("starlette", "sessionkit", "sealed")
    )
    sections = [
        "# sessionkit benchmark results",
        "Written by the suite from one real run; `benchmarks/README.md` says how to read it.",
        "## Machine and versions\n\n" + report.machine(command),
        "## Targets\n\n" + report.targets_table(found),
        "## Per request, in process (µs, medians)\n\n"
        f"{timings.rounds} rounds, the five apps (the minimal and sealed ones below) "
        "interleaved "
        "round-robin in each; "
        f"requests per batch: {batches}. Cookie values (small and large), each written by "
        f"its middleware: {sizes}. Clock: {clock}. Overhead = app - bare, paired per round "
        "(median ± half the interquartile range); ratio = sessionkit's overhead / "
        "Starlette's.\n\n" + report.inprocess_table(timings),
        "## The cookie format's share: a minimal middleware on it\n\n"
        "`benchmarks/minimal.py` reads and writes sessionkit's cookies with the same keys "
        "and checks, written for speed (verified and decoded inline on first use), and sets "
        "the cookie after a mutating call; nothing else: no `Vary`, no in-place change "
        "detection, no re-issue, no lock. Its ratio approximates what the cookie format "
        "alone costs in a request; sessionkit minus minimal (paired per round) is what "
        "sessionkit's features and structure cost on top. Same rounds as above.\n\n"
        + report.minimal_table(timings),
        "## Sealed cookies: `encrypt=True`\n\n"
        "sessionkit with `encrypt=True`: cookies sealed with AES-256-GCM under a per-cookie "
        "key (`sessionkit.sealing`), from the same rounds as above. Sealed ratio = its "
        "overhead / Starlette's; sealed - signed (paired per round) is what encryption costs "
        "over sessionkit's signed cookies.\n\n" + report.sealed_table(timings),
        f"## Floor: the codec's parts alone (µs per call, medians of {floor.rounds} rounds)\n\n"
        + report.floor_table(floor, timings),
    ]
    if throughput is not None:
        sections.append(
            "## Throughput under uvicorn on 127.0.0.1\n\n"
            f"One uvicorn process per app (asyncio loop, h11), {throughput.connections} "
            f"keep-alive connections, {throughput.requests} requests per batch, medians of "
            f"{throughput.rounds} interleaved rounds. Requests per second are wall-clock and "
            "share the 2 CPUs with the load generator; the server's CPU µs per request (from "
            "/proc, user + system) is the steadier measure, and the overhead columns are "
            "its difference from the bare app's.\n\n" + report.throughput_table(throughput)
        )
    if spots is not None:
        sections.append(
            "## Hot spots: sessionkit minus bare, per scenario (cProfile own time)\n\n"
            "The profiler inflates small functions: compare shares, not totals.\n\n"
            + report.hot_spot_tables(spots)
        )
    return "\n\n".join(sections) + "\n", found


def redis_section(secret_key: str, args: argparse.Namespace) -> str:
    """The Redis store beside starsessions', or why it was not run."""
    if not stores.redis_available():
        return "\n## Server-side stores\n\nNot run: it needs redis-server and starsessions.\n"
    rounds = 3 if args.quick else 40
    progress(f"Redis stores: {rounds} rounds, redis-server and this process on CPU 0")
    with stores.pinned_redis() as url:
        timings = asyncio.run(stores.measure_stores(secret_key, url, rounds, batch=40))
    return (
        "\n## Server-side stores: sessionkit's Redis store and starsessions'\n\n"
        'sessionkit with `store="redis"` beside starsessions\' `RedisStore` with '
        "`SessionAutoloadMiddleware`, on one real redis-server; both pinned to CPU 0 with this "
        f"process (see `benchmarks/stores.py`). {timings.rounds} interleaved rounds of "
        f"{timings.batch} requests; wall-clock µs per request, medians; overhead = app - bare, "
        "paired per round; ratio = sessionkit's overhead / starsessions'. Commands per request "
        "from `INFO commandstats` (a script is one round trip; what it ran inside Redis "
        "follows in parentheses).\n\n" + stores.stores_table(timings) + "\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_serve"]:  # a uvicorn child of the throughput run
        flavor: Flavor = argv[1]  # type: ignore[assignment]
        serve(flavor, int(argv[2]))
        return 0
    args = parse(argv)
    command = shlex.join(["python", "-m", "benchmarks", *argv])
    secret_key = secrets.token_urlsafe(32)  # strong, and the same for both middlewares
    started = time.perf_counter()
    bench, timings, spots = asyncio.run(in_process(secret_key, args))
    progress(f"floor: {args.floor_rounds} rounds")
    cookies = {
        size: (str(bench.cookies["sessionkit", size]), str(bench.cookies["starlette", size]))
        for size in ("small", "large")
    }
    floor = measure_floor(secret_key, cookies, args.floor_rounds, args.batch_ms / 1000, args.clock)
    throughput = None
    if not args.no_server:
        progress(f"uvicorn: {args.server_rounds} rounds of {args.server_requests} requests")
        throughput = measure_throughput(
            secret_key, bench.cookies, args.server_rounds, args.server_requests, args.connections
        )
    text, found = render(command, bench, args.clock, timings, floor, throughput, spots)
    if not args.no_redis:
        text += redis_section(secret_key, args)
    progress(f"done in {time.perf_counter() - started:.0f} s")
    print(text)
    if args.results is not None:
        args.results.write_text(text, encoding="utf-8")
        progress(f"wrote {args.results}")
    missed = [target.name for target in found if not target.met]
    return 1 if args.strict and missed else 0
