"""The round trips' timeout: one event-loop timer for every trip in flight, not one each."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import time
import weakref
from typing import TYPE_CHECKING, Any, TypeVarTuple

import pytest

from sessionkit._trip_timer import TripTimer

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from contextvars import Context

TIMEOUT = 0.05
_Ts = TypeVarTuple("_Ts")


class CountingLoop(asyncio.SelectorEventLoop):
    """An event loop that counts the timers set on it."""

    timers = 0

    def call_at(
        self,
        when: float,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: Context | None = None,
    ) -> asyncio.TimerHandle:
        self.timers += 1
        return super().call_at(when, callback, *args, context=context)


def run(main: Callable[[], Coroutine[Any, Any, Any]]) -> tuple[Any, int]:
    """``main()``'s result, and how many timers its loop was asked for."""
    with asyncio.Runner(loop_factory=CountingLoop) as runner:
        result = runner.run(main())
        loop = runner.get_loop()
        assert isinstance(loop, CountingLoop)
        return result, loop.timers


async def answer_after(seconds: float, value: str = "answer") -> str:
    await asyncio.sleep(seconds)
    return value


async def bounded(timer: TripTimer, seconds: float, value: str = "answer") -> str:
    with timer.trip():
        return await answer_after(seconds, value)


def test_a_trip_past_its_timeout_raises_timeout_error_at_the_timeout() -> None:
    timer = TripTimer(TIMEOUT)

    async def main() -> float:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            await bounded(timer, 10)
        return time.monotonic() - start

    elapsed, _ = run(main)
    assert TIMEOUT <= elapsed < TIMEOUT + 0.5


def test_many_trips_in_a_row_share_one_timer_per_timeout() -> None:
    timer = TripTimer(TIMEOUT)

    async def main() -> list[str]:
        return [await bounded(timer, 0) for _ in range(200)]

    # asyncio.timeout sets (and asyncio.sleep(0) none) one timer per use: 200 here. The 200
    # trips take far less than one timeout, so one timer covers them all.
    answers, timers = run(main)
    assert answers == ["answer"] * 200
    assert timers == 1


def test_each_trip_times_out_at_its_own_deadline() -> None:
    timer = TripTimer(TIMEOUT)

    async def main() -> tuple[str | BaseException, str | BaseException]:
        first = asyncio.create_task(bounded(timer, 10, "first"))
        await asyncio.sleep(TIMEOUT / 2)
        start = time.monotonic()
        quick = asyncio.create_task(bounded(timer, 0.001, "quick"))
        hung = asyncio.create_task(bounded(timer, 10, "hung"))
        results = await asyncio.gather(first, quick, return_exceptions=True)
        assert not hung.done()  # its deadline is later than the first one's
        with pytest.raises(TimeoutError):
            await hung
        assert time.monotonic() - start >= TIMEOUT
        return results

    (first, quick), _ = run(main)
    assert isinstance(first, TimeoutError)
    assert quick == "quick"


def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    timer = TripTimer(TIMEOUT)

    async def main() -> None:
        task = asyncio.create_task(bounded(timer, 10))
        await asyncio.sleep(TIMEOUT / 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the first trip's timer, firing while this one runs, sets itself for this one's
        # deadline, which it does not reach
        assert await bounded(timer, TIMEOUT * 0.9) == "answer"

    run(main)


def test_a_timed_out_trip_leaves_its_task_usable() -> None:
    """The cancellation is taken back: the task runs on, and later trips are timed anew."""
    timer = TripTimer(TIMEOUT)

    async def main() -> tuple[int, str]:
        with pytest.raises(TimeoutError):
            await bounded(timer, 10)
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling(), await bounded(timer, 0)

    (cancelling, answer), _ = run(main)
    assert cancelling == 0
    assert answer == "answer"


def test_an_idle_loop_keeps_no_timer() -> None:
    timer = TripTimer(TIMEOUT)

    async def main() -> int:
        await bounded(timer, 0)
        await asyncio.sleep(TIMEOUT * 3)  # the one timer fires once, finds no trip, stops
        loop = asyncio.get_running_loop()
        assert isinstance(loop, CountingLoop)
        return loop.timers

    timers_after_idle, timers = run(main)
    # one timer for the trip, and one per asyncio.sleep; none set again by the trip timer
    assert timers_after_idle == timers == 2


def test_trips_on_several_event_loops_are_each_timed_on_their_own() -> None:
    timer = TripTimer(TIMEOUT)
    for _ in range(2):

        async def main() -> str:
            with pytest.raises(TimeoutError):
                await bounded(timer, 10)
            return await bounded(timer, 0)

        assert run(main)[0] == "answer"


def test_a_cancellation_from_elsewhere_beside_the_timeout_wins() -> None:
    """The request is cancelled (its client left) as its trip times out: it stays cancelled."""
    timer = TripTimer(TIMEOUT)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(bounded(timer, 10))
        await asyncio.sleep(0)  # the task is in its trip now
        deadline = loop.time() + TIMEOUT  # the trip's, or a hair after it
        loop.call_at(deadline - 0.005, time.sleep, 0.02)  # the loop stalls past both
        loop.call_at(deadline + 0.005, task.cancel)
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main)


def test_a_closed_event_loop_is_not_kept_alive() -> None:
    """As with Starlette's TestClient used without ``with``: an event loop per request, each
    closed while the timer it was given is still set."""
    timer = TripTimer(10)
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def request() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        await bounded(timer, 0)

    for _ in range(3):
        asyncio.run(request())
    gc.collect()
    assert [loop() for loop in loops] == [None, None, None]


class RequestState:
    """Something a request keeps in a context variable."""


STATE: contextvars.ContextVar[RequestState] = contextvars.ContextVar("STATE")


def test_the_timer_keeps_no_finished_request_s_context_alive() -> None:
    timer = TripTimer(TIMEOUT)

    async def request(states: list[weakref.ref[RequestState]]) -> None:
        state = RequestState()
        states.append(weakref.ref(state))
        STATE.set(state)
        del state
        await bounded(timer, TIMEOUT * 0.7)  # it sets the timer: no trip is in flight

    async def main() -> bool:
        states: list[weakref.ref[RequestState]] = []
        await asyncio.create_task(request(states))
        # Traffic goes on, a trip in flight whenever the timer fires: it is set again and
        # again from its own callback.
        traffic = []
        for _ in range(8):
            traffic.append(asyncio.create_task(bounded(timer, TIMEOUT * 0.7)))
            await asyncio.sleep(TIMEOUT / 4)
        gc.collect()  # slow in a big test process: a trip may time out, which is no matter
        alive = states[0]() is not None
        await asyncio.gather(*traffic, return_exceptions=True)
        return alive

    alive, _ = run(main)
    assert not alive
