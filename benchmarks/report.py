"""The report: machine and versions, then Markdown tables with PASS/MISS per target."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import timeit
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

from .apps import FLAVORS
from .floor import CODEC_DECODE, FLOOR_DECODE, SIZES
from .inprocess import SCENARIOS, spread
from .server import ROOT, SERVER_SCENARIOS

if TYPE_CHECKING:
    from .floor import FloorResult
    from .inprocess import Timings
    from .profiling import Profile
    from .server import Throughput

PACKAGES = (
    "sessionkit",
    "starlette",
    "pydantic",
    "pydantic-core",
    "itsdangerous",
    "uvicorn",
    "h11",
)
FLOOR_FACTOR = 2.0
#: Sealed cookies (``encrypt=True``) may cost up to Starlette's own overhead on the small
#: read and write: encryption is opt-in, and paid for in microseconds.
SEALED_TARGET = 1.0
SEALED_TARGETED = ("read_small", "write_small")


@dataclass(frozen=True)
class Target:
    """One target of the issue, and whether this run met it."""

    name: str
    measured: float
    limit: float
    unit: str

    @property
    def met(self) -> bool:
        return self.measured <= self.limit


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _git_state() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "src")
    return f"{commit}" + (" + uncommitted changes in src/" if dirty else "")


def machine(command: str) -> str:
    """The machine, the versions and the command, as a Markdown list."""
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    reference = min(timeit.repeat("sum(range(10_000))", number=200, repeat=5)) / 200 * 1e6
    return "\n".join(
        [
            f"- machine: {_cpu_model()}, {os.cpu_count()} CPUs, {platform.platform()}",
            f"- load average at the end of the run (1, 5, 15 min): {load}; "
            f"reference loop `sum(range(10_000))`: {reference:.0f} µs (compare runs by it)",
            f"- Python {platform.python_version()} ({platform.python_implementation()})",
            f"- {', '.join(versions)}",
            f"- sessionkit source: git {_git_state()}",
            f"- command: `{command}`",
        ]
    )


def overhead(timings: Timings, key: str, flavor: str) -> float:
    return statistics.median(timings.overheads(key, flavor))  # type: ignore[arg-type]


def targets(timings: Timings, floor: FloorResult) -> list[Target]:
    """Every target: the ratios to Starlette's overhead, and the small read vs the floor."""
    found = []
    for scenario in SCENARIOS:
        if scenario.target is not None:
            ratio = overhead(timings, scenario.key, "sessionkit") / overhead(
                timings, scenario.key, "starlette"
            )
            found.append(Target(f"{scenario.label}: ratio", ratio, scenario.target, "x"))
    for scenario in SCENARIOS:
        if scenario.key in SEALED_TARGETED:
            ratio = overhead(timings, scenario.key, "sealed") / overhead(
                timings, scenario.key, "starlette"
            )
            found.append(Target(f"sealed, {scenario.label}: ratio", ratio, SEALED_TARGET, "x"))
    read = overhead(timings, "read_small", "sessionkit")
    found.append(
        Target(
            "small read overhead <= 2 x floor decode + verify",
            read,
            FLOOR_FACTOR * floor.get(FLOOR_DECODE, "small"),
            "µs",
        )
    )
    return found


def inprocess_table(timings: Timings) -> str:
    """Per scenario: medians, overheads over bare (± half IQR), ratio, target, result."""
    rows = []
    for scenario in SCENARIOS:
        key = scenario.key
        theirs = timings.overheads(key, "starlette")
        ours = timings.overheads(key, "sessionkit")
        ratio = statistics.median(ours) / statistics.median(theirs)
        rows.append(
            [
                scenario.label,
                f"{timings.median(key, 'bare'):.1f}",
                f"{timings.median(key, 'starlette'):.1f}",
                f"{timings.median(key, 'sessionkit'):.1f}",
                f"{statistics.median(theirs):.2f} ± {spread(theirs):.2f}",
                f"{statistics.median(ours):.2f} ± {spread(ours):.2f}",
                f"{ratio:.2f}",
                scenario.limit,
                scenario.verdict(ratio, "PASS", "MISS"),
            ]
        )
    header = [
        "scenario",
        "bare µs",
        "Starlette µs",
        "sessionkit µs",
        "Starlette overhead µs",
        "sessionkit overhead µs",
        "ratio",
        "target",
        "result",
    ]
    return _table(header, rows)


def minimal_table(timings: Timings) -> str:
    """Per scenario: the minimal middleware's overhead and ratio beside sessionkit's, and
    what sessionkit adds to it (per-round differences, as for the overheads)."""
    rows = []
    for scenario in SCENARIOS:
        key = scenario.key
        theirs = overhead(timings, key, "starlette")
        least = timings.overheads(key, "minimal")
        extra = timings.differences(key, "sessionkit", "minimal")
        least_ratio = statistics.median(least) / theirs
        rows.append(
            [
                scenario.label,
                f"{theirs:.2f}",
                f"{statistics.median(least):.2f} ± {spread(least):.2f}",
                f"{least_ratio:.3f}",  # three places: it can sit at a limit
                f"{overhead(timings, key, 'sessionkit') / theirs:.2f}",
                f"{statistics.median(extra):.2f} ± {spread(extra):.2f}",
                scenario.limit,
                scenario.verdict(least_ratio, "yes", "no"),
            ]
        )
    header = [
        "scenario",
        "Starlette overhead µs",
        "minimal overhead µs",
        "minimal ratio",
        "sessionkit ratio",
        "sessionkit - minimal µs",
        "target",
        "minimal within it",
    ]
    return _table(header, rows)


def sealed_table(timings: Timings) -> str:
    """Per scenario: sealed cookies' overhead and ratio beside signed ones', and what
    sealing adds to signing (per-round differences, as for the overheads)."""
    rows = []
    for scenario in SCENARIOS:
        key = scenario.key
        theirs = overhead(timings, key, "starlette")
        sealed = timings.overheads(key, "sealed")
        extra = timings.differences(key, "sealed", "sessionkit")
        ratio = statistics.median(sealed) / theirs
        targeted = key in SEALED_TARGETED
        rows.append(
            [
                scenario.label,
                f"{theirs:.2f}",
                f"{overhead(timings, key, 'sessionkit'):.2f}",
                f"{statistics.median(sealed):.2f} ± {spread(sealed):.2f}",
                f"{ratio:.2f}",
                f"{statistics.median(extra):.2f} ± {spread(extra):.2f}",
                f"≤ {SEALED_TARGET:.2f}" if targeted else "—",
                ("PASS" if ratio <= SEALED_TARGET else "MISS") if targeted else "—",
            ]
        )
    header = [
        "scenario",
        "Starlette overhead µs",
        "signed overhead µs",
        "sealed overhead µs",
        "sealed ratio",
        "sealed - signed µs",
        "target",
        "result",
    ]
    return _table(header, rows)


def targets_table(found: list[Target]) -> str:
    rows = [
        [
            target.name,
            f"{target.measured:.2f} {target.unit}",
            f"≤ {target.limit:.2f} {target.unit}",
            "PASS" if target.met else "MISS",
        ]
        for target in found
    ]
    return _table(["target", "measured", "limit", "result"], rows)


def floor_table(floor: FloorResult, timings: Timings) -> str:
    operations = list(dict.fromkeys(operation for operation, _ in floor.micros))
    rows = [
        [operation, *(f"{floor.get(operation, size):.2f}" for size in SIZES)]
        for operation in operations
    ]
    reads = [overhead(timings, key, "sessionkit") for key in ("read_small", "read_large")]
    rows.append(["sessionkit read overhead, whole request (above)", *(f"{r:.2f}" for r in reads)])
    for name, operation in (("floor", FLOOR_DECODE), ("codec.decode", CODEC_DECODE)):
        ratios = [
            read / floor.get(operation, size) for read, size in zip(reads, SIZES, strict=True)
        ]
        rows.append([f"… as a multiple of {name}", *(f"{r:.2f}x" for r in ratios)])
    return _table(["operation", "~100 B session µs", "2.5 KB session µs"], rows)


def throughput_table(throughput: Throughput) -> str:
    """Requests per second, and the server CPU time per request each middleware adds."""
    rows = []
    for key, label, _, _ in SERVER_SCENARIOS:
        rates = [throughput.rate(key, flavor) for flavor in FLAVORS]
        cpu = [throughput.cpu_micros(key, flavor) for flavor in FLAVORS]
        row = [label, *(f"{rate:.0f}" for rate in rates)]
        if None in cpu:
            row += ["n/a"] * 6
        else:
            bare, theirs, ours = (value or 0.0 for value in cpu)
            extra_theirs, extra_ours = theirs - bare, ours - bare
            # /proc counts CPU time in clock ticks: below one tick per request the
            # difference is rounding, and a ratio to it means nothing.
            tick = 1e6 / os.sysconf("SC_CLK_TCK") / throughput.requests
            ratio = f"{extra_ours / extra_theirs:.2f}" if extra_theirs > tick else "n/a"
            row += [f"{bare:.0f}", f"{theirs:.0f}", f"{ours:.0f}"]
            row += [f"{extra_theirs:.1f}", f"{extra_ours:.1f}", ratio]
        rows.append(row)
    header = [
        "scenario",
        "bare req/s",
        "Starlette req/s",
        "sessionkit req/s",
        "bare CPU µs/req",
        "Starlette CPU µs/req",
        "sessionkit CPU µs/req",
        "Starlette overhead µs",
        "sessionkit overhead µs",
        "ratio",
    ]
    return _table(header, rows)


def hot_spot_tables(profile: Profile) -> str:
    parts = []
    for scenario in SCENARIOS:
        rows = [
            [f"`{spot.name}`", f"{spot.share:.0%}", f"{spot.micros:.2f}", f"{spot.calls:.0f}"]
            for spot in profile.functions[scenario.key]
        ]
        modules = ", ".join(
            f"`{name}` {share:.0%}" for name, share in profile.modules[scenario.key]
        )
        parts.append(
            f"**{scenario.label}** (by module: {modules})\n\n"
            + _table(["function", "share", "µs/req", "calls/req"], rows)
        )
    return "\n\n".join(parts)
