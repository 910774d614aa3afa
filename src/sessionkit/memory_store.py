"""The memory store: server-side sessions in this process's memory.

**One process only, for development and tests.** Every worker process has its own sessions,
so a user bounced between workers is logged out, and everything is gone on restart. It has
the Redis store's semantics (both clocks, strict ids, per-user index), and a bound on how
many sessions it keeps: past ``max_sessions``, creating one first drops expired records,
then the one closest to its expiry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sessionkit.server_store import Backend, expiry_ms

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

__all__ = ["MemoryBackend"]

#: Sessions the memory store keeps at most, by default.
MAX_SESSIONS = 10_000


@dataclass(slots=True)
class _Entry:
    fields: dict[str, bytes]
    expires_ms: int
    index: str | None


@dataclass
class MemoryBackend(Backend):
    """Records in a dict, expired by the clock when next looked at."""

    max_sessions: int = MAX_SESSIONS
    clock: Callable[[], float] = time.time
    _records: dict[str, _Entry] = field(default_factory=dict, repr=False)
    _indexes: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)

    async def find(self, handle: str, now_ms: int, idle_ms: int) -> dict[str, bytes] | None:
        entry = self._live(handle)
        if entry is None:
            return None
        entry.expires_ms = expiry_ms(entry.fields, now_ms, idle_ms)
        return dict(entry.fields)

    async def update(
        self, handle: str, expires_ms: int, fields: Mapping[str, bytes], deleted: Iterable[str]
    ) -> bool:
        entry = self._live(handle)
        if entry is None:
            return False
        entry.fields.update(fields)
        for name in deleted:
            entry.fields.pop(name, None)
        entry.expires_ms = expires_ms
        return True

    async def create(
        self,
        handle: str,
        now_ms: int,
        expires_ms: int,
        fields: Mapping[str, bytes],
        index: str | None,
        replaces: str | None,
        require_replaced: bool,
    ) -> bool:
        if replaces is not None:
            if self._live(replaces) is None and require_replaced:
                return False
            self._records.pop(replaces, None)
        self._make_room()
        entry = _Entry(dict(fields), expires_ms, index)
        self._records[handle] = entry
        if index is not None:
            self._indexes.setdefault(index, {})[handle] = now_ms
        return True

    async def delete(self, handle: str) -> bool:
        live = self._live(handle) is not None
        self._records.pop(handle, None)
        return live

    async def list_index(self, index: str) -> list[tuple[str, dict[str, bytes], int]]:
        handles = self._indexes.get(index, {})
        found = []
        for handle in list(handles):
            entry = self._live(handle)
            if entry is None:
                del handles[handle]
            else:
                found.append(
                    (handle, dict(entry.fields), entry.expires_ms - int(self.clock() * 1000))
                )
        if not handles:
            self._indexes.pop(index, None)
        return found

    async def delete_index(self, index: str) -> int:
        handles = self._indexes.pop(index, {})
        return sum([await self.delete(handle) for handle in handles])

    def _live(self, handle: str) -> _Entry | None:
        """The record, or ``None`` if it is absent or expired (then dropped)."""
        entry = self._records.get(handle)
        if entry is not None and entry.expires_ms <= self.clock() * 1000:
            del self._records[handle]
            return None
        return entry

    def _make_room(self) -> None:
        if len(self._records) < self.max_sessions:
            return
        for handle in list(self._records):
            self._live(handle)  # drops the expired ones
        while len(self._records) >= self.max_sessions:
            soonest = min(self._records, key=lambda handle: self._records[handle].expires_ms)
            del self._records[soonest]
