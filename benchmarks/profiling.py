"""Where sessionkit's overhead goes, per scenario: cProfile, sessionkit minus the bare app.

Each scenario runs on the bare app and on sessionkit under ``cProfile``, in alternating
chunks of requests. For every function sessionkit's run calls more often than the bare
run, its extra own time (``tottime``) per request is the median over the chunks, so one
chunk that a busy machine stalled does not rank a function first. Functions called as
often in both runs are left out: same calls on the same data, so a difference in their
time is noise. The profiler inflates small functions: read the order and the shares.
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .inprocess import SCENARIOS, Bench, run_batch

if TYPE_CHECKING:
    from .apps import Flavor

FunctionKey = tuple[str, int, str]
#: own seconds and calls of each function in one chunk
ChunkStats = dict[FunctionKey, tuple[float, int]]


@dataclass(frozen=True)
class HotSpot:
    """One function's extra own time per request under sessionkit (µs, profiled)."""

    name: str
    micros: float
    calls: float
    #: of all the own time sessionkit adds in the scenario
    share: float = 0.0


@dataclass(frozen=True)
class Profile:
    """Per scenario: the top functions, and the top modules' shares of the added time."""

    functions: dict[str, list[HotSpot]]
    modules: dict[str, list[tuple[str, float]]]


async def _chunks(
    bench: Bench, key: str, count: int, chunks: int
) -> tuple[list[ChunkStats], list[ChunkStats]]:
    """Per chunk, the stats of the bare app and of sessionkit, run alternately."""
    flavors: tuple[Flavor, Flavor] = ("bare", "sessionkit")
    runs: tuple[list[ChunkStats], list[ChunkStats]] = ([], [])
    for flavor in flavors:  # warm up
        await run_batch(bench.apps[flavor], bench.scopes[key, flavor], 50)
    for _ in range(chunks):
        for flavor, found in zip(flavors, runs, strict=True):
            profiler = cProfile.Profile()
            profiler.enable()
            await run_batch(bench.apps[flavor], bench.scopes[key, flavor], count)
            profiler.disable()
            stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
            found.append({name: (value[2], value[1]) for name, value in stats.items()})
    return runs


def _name(key: FunctionKey) -> str:
    filename, line, function = key
    if filename == "~":
        return function  # a builtin, e.g. <method 'digest' of '_hashlib.HMAC' objects>
    path = Path(filename)
    parts = path.parts
    for anchor in ("sessionkit", "starlette", "itsdangerous", "pydantic", "pydantic_core"):
        if anchor in parts:
            start = len(parts) - 1 - parts[::-1].index(anchor)
            return f"{'/'.join(parts[start:])}:{line}({function})"
    if path.name == "__init__.py":
        return f"{path.parent.name}/__init__.py:{line}({function})"
    return f"{path.name}:{line}({function})"


def _module(name: str) -> str:
    """``sessionkit/codec.py`` for a function in it; a builtin stays whole."""
    return name if name.startswith("<") else name.split(":", 1)[0]


def _extra(bare: list[ChunkStats], ours: list[ChunkStats], count: int) -> list[HotSpot]:
    """Every function sessionkit calls more often, with its median extra µs per request."""
    spots = []
    for key in set().union(*ours):
        deltas, calls = [], []
        for base, mine in zip(bare, ours, strict=True):
            seconds, called = mine.get(key, (0.0, 0))
            base_seconds, base_called = base.get(key, (0.0, 0))
            deltas.append((seconds - base_seconds) / count * 1e6)
            calls.append((called - base_called) / count)
        extra_calls = statistics.median(calls)
        micros = statistics.median(deltas)
        if extra_calls > 0 and micros > 0:
            spots.append(HotSpot(_name(key), micros, extra_calls))
    return spots


async def hot_spots(bench: Bench, count: int, top: int, chunks: int = 6) -> Profile:
    """Per scenario, the ``top`` functions (and modules) sessionkit adds the most time in."""
    functions, modules = {}, {}
    for scenario in SCENARIOS:
        bare, ours = await _chunks(bench, scenario.key, count // chunks, chunks)
        spots = _extra(bare, ours, count // chunks)
        total = sum(spot.micros for spot in spots) or 1.0
        spots.sort(key=lambda spot: spot.micros, reverse=True)
        functions[scenario.key] = [
            HotSpot(spot.name, spot.micros, spot.calls, spot.micros / total) for spot in spots[:top]
        ]
        by_module: dict[str, float] = {}
        for spot in spots:
            by_module[_module(spot.name)] = by_module.get(_module(spot.name), 0.0) + spot.micros
        ranked = sorted(by_module.items(), key=lambda item: item[1], reverse=True)
        modules[scenario.key] = [(name, micros / total) for name, micros in ranked[:top]]
    return Profile(functions, modules)
