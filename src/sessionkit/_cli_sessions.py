"""The ``sessions`` command: list and end the sessions kept in Redis, as an operator would.

- ``sessions list --user ID [--json]``: the user's live sessions, newest first;
- ``sessions revoke --user ID``: end all of them ("sign out everywhere"), printing how many;
- ``sessions revoke --handle H``: end one, by the handle ``list`` shows; exit 1 if no live
  session has it (a typo, or it expired or was revoked already), so scripts can tell.

It reads the settings as the application does (the environment and ``.env``) and opens the
store with :meth:`SessionSettings.open_store`. Only the Redis store can be reached from
another process: the cookie store keeps no records, and the memory store lives inside the
application's process.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, TypeVar

from sessionkit.cli import _error, _load_settings, _moment
from sessionkit.exceptions import SessionConfigError, SessionStoreError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable

    from sessionkit.settings import SessionSettings
    from sessionkit.store import SessionInfo, SessionStore

    _Commands = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["add_sessions"]

T = TypeVar("T")

_WHY_NOT_REACHABLE = {
    "cookie": "the cookie store keeps no record of sessions (each lives in its browser's "
    "cookie), so there is nothing to list or end",
    "memory": "the memory store keeps sessions inside the application's process, out of this "
    "command's reach (the application can use get_store(request))",
}


def add_sessions(commands: _Commands) -> None:
    sessions = commands.add_parser(
        "sessions",
        help="list or end the sessions kept in Redis",
        description="List or end server-side sessions (SESSION_STORE=redis), reading the "
        "settings from the environment and ./.env as the application does.",
    )
    actions = sessions.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list",
        help="list a user's live sessions",
        description="Print a user's live sessions, newest first: each one's handle, when it "
        "was created and last seen, and when it expires (UTC).",
    )
    listing.add_argument("--user", required=True, metavar="ID", help="the user's id")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(command=list_sessions)
    revoke = actions.add_parser(
        "revoke",
        help="end a user's sessions, or one session",
        description="End every session of a user (--user), or one session by the handle "
        "'sessions list' shows (--handle). Exit 1 if no live session has that handle.",
    )
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--user", metavar="ID", help="end every session of this user")
    which.add_argument("--handle", metavar="H", help="end the session with this handle")
    revoke.set_defaults(command=revoke_sessions)


def list_sessions(args: argparse.Namespace) -> int:
    user: str = args.user
    found = _run(lambda store: store.list_user(user), needs_user=True)
    if found is None:
        return 1
    if args.json:
        print(json.dumps([_as_json(info) for info in found], indent=2, ensure_ascii=False))
    elif not found:
        print(f"user {user} has no live sessions")
    else:
        print(f"{_count(len(found), 'live session')} of user {user}, newest first:")
        print(_table(found))
    return 0


def revoke_sessions(args: argparse.Namespace) -> int:
    user: str | None = args.user
    if user is not None:
        count = _run(lambda store: store.revoke_user(user), needs_user=True)
        if count is None:
            return 1
        print(f"ended {_count(count, 'session')} of user {user}")
        return 0
    handle: str = args.handle
    existed = _run(lambda store: store.revoke(handle), needs_user=False)
    if existed is None:
        return 1
    if not existed:
        _error(
            f"no live session has the handle {handle!r}: it expired, was revoked, or never "
            "existed (the handles are in: sessionkit sessions list --user ID)"
        )
        return 1
    print(f"ended the session {handle}")
    return 0


def _run(work: Callable[[SessionStore], Awaitable[T]], *, needs_user: bool) -> T | None:
    """``work`` done on the store the settings describe; ``None`` once the error is printed."""
    settings = _load_settings()
    if settings is None:
        return None
    problem = _unreachable(settings, needs_user=needs_user)
    if problem is not None:
        _error(problem)
        return None
    try:
        return asyncio.run(_on_store(settings, work))
    except SessionConfigError as exc:  # what only building the store finds: no URL, no package
        _error(str(exc))
    except SessionStoreError as exc:  # its message holds neither the URL nor its password
        _error(f"{exc}; is Redis running, and is SESSION_REDIS_URL the application's?")
    return None


async def _on_store(settings: SessionSettings, work: Callable[[SessionStore], Awaitable[T]]) -> T:
    async with settings.open_store() as store:
        return await work(store)


def _unreachable(settings: SessionSettings, *, needs_user: bool) -> str | None:
    """Why these settings give this command no sessions to work on, if they do not."""
    if settings.store != "redis":
        return (
            f"the sessions command needs the Redis store, but {settings.where('store')} is "
            f"{settings.store!r}: {_WHY_NOT_REACHABLE[settings.store]}. Set SESSION_STORE=redis "
            "and SESSION_REDIS_URL as the application has them"
        )
    if needs_user and settings.user_key is None:
        return (
            f"{settings.where('user_key')} is not set, so the store keeps no index of a user's "
            "sessions and --user cannot find them; set it as the application does, to the "
            "session entry that holds the user's id (default: user_id), or end one session "
            "with: sessionkit sessions revoke --handle H"
        )
    return None


def _table(found: list[SessionInfo]) -> str:
    rows = [["HANDLE", "CREATED", "LAST SEEN", "EXPIRES"]]
    for info in found:
        times = (info.created_at, info.last_seen_at, info.expires_at)
        rows.append([info.handle, *(_moment(moment.timestamp()) for moment in times)])
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = []
    for *padded, last in rows:
        cells = [f"{cell:<{width}}" for cell, width in zip(padded, widths, strict=True)]
        lines.append("  " + "  ".join([*cells, last]))
    return "\n".join(lines)


def _as_json(info: SessionInfo) -> dict[str, Any]:
    times = {
        "created_at": info.created_at,
        "last_seen_at": info.last_seen_at,
        "expires_at": info.expires_at,
    }
    shown = {
        name: t.isoformat(timespec="seconds").replace("+00:00", "Z") for name, t in times.items()
    }
    return {"handle": info.handle, **shown}


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"
