"""The benchmark suite's apps behave as its report says, so its numbers compare like with like.

``benchmarks.inprocess.prepare`` builds every flavor (bare, Starlette's middleware,
sessionkit, the minimal middleware on sessionkit's codec), makes each middleware's cookies
and runs every scenario once, asserting the body and whether ``Set-Cookie`` is sent.
"""

from __future__ import annotations

import asyncio
import secrets

from benchmarks.apps import IN_PROCESS_FLAVORS
from benchmarks.inprocess import SCENARIOS, call, make_scope, prepare


def test_every_scenario_does_what_the_report_says_for_every_flavor() -> None:
    bench = asyncio.run(prepare(secrets.token_urlsafe(32)))
    assert set(bench.apps) == set(IN_PROCESS_FLAVORS)
    assert {key for key, _ in bench.scopes} == {scenario.key for scenario in SCENARIOS}


def test_the_minimal_middleware_reads_sessionkits_cookie_and_writes_one_it_reads() -> None:
    bench = asyncio.run(prepare(secrets.token_urlsafe(32)))
    minimal = bench.apps["minimal"]
    written = asyncio.run(call(minimal, bench.scopes["write_small", "minimal"]))
    header = written.header(b"set-cookie")
    assert header is not None
    cookie = header.split(b";", 1)[0].split(b"=", 1)[1].decode("ascii")
    assert cookie != bench.cookies["sessionkit", "small"]  # a new cookie: visits went up
    again = asyncio.run(call(minimal, make_scope("/write", cookie)))
    assert again.body == b"3"
    # sessionkit reads the minimal middleware's cookie too: the same codec and key.
    read = asyncio.run(call(bench.apps["sessionkit"], make_scope("/write", cookie)))
    assert read.body == b"3"
