"""The ``.env`` file, read without blocking a running event loop.

Starlette builds its middleware stack lazily, on the first request, so a ``SessionMiddleware``
(and its settings) is often constructed inside the running event loop, where reading a file
would block every other request. So the parsed content of each dotenv file is kept here:

- when sessionkit is imported (outside an event loop), ``./.env`` is read;
- settings built outside an event loop read their dotenv file afresh and keep its content;
- settings built inside a running event loop use the content kept for their file, touching no
  file system. Only a file never read before (a ``_env_file`` first named there) is read there.

A file that is not valid text in its encoding is a :class:`SessionConfigError` naming the file
and the first bad byte's position, never its content.
"""

from __future__ import annotations

import asyncio
import os
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from pydantic_settings import DotEnvSettingsSource

from sessionkit.exceptions import SessionConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic_settings import BaseSettings
    from pydantic_settings.sources import DotenvType

DOTENV_FILE = ".env"

#: The dotenv file(s) the settings being built read: DOTENV_FILE unless ``_env_file=`` says.
requested_file: ContextVar[DotenvType | None] = ContextVar("requested_file", default=DOTENV_FILE)

_Key = tuple[tuple[str, ...], str | None, int, bool, bool, str | None]
_read: dict[_Key, Mapping[str, str | None]] = {}


def load(source: DotEnvSettingsSource, kind: str) -> None:
    """Fill ``source`` (built with no file, so without I/O) from :data:`requested_file`."""
    source.env_file = requested_file.get()
    source.env_vars = _content(source, kind)


def preload(settings_cls: type[BaseSettings]) -> None:
    """Read ``./.env`` for settings that will be built inside an event loop, if not in one."""
    if _in_event_loop():
        return
    try:
        load(DotEnvSettingsSource(settings_cls), "session")
    except (SessionConfigError, OSError):
        return  # reported when settings are built


def _content(source: DotEnvSettingsSource, kind: str) -> Mapping[str, str | None]:
    key = _key(source)
    if not key[0]:
        return {}
    if _in_event_loop() and key in _read:
        return _read[key]
    try:
        content: Mapping[str, str | None] = MappingProxyType(dict(source._read_env_files()))
    except UnicodeDecodeError:
        problem = _not_text(key[0], key[1] or "utf-8")
    else:
        _read[key] = content
        return content
    raise SessionConfigError([problem], kind)  # outside the except: the bytes stay out of it


def _key(source: DotEnvSettingsSource) -> _Key:
    files = source.env_file
    if files is None:
        names: tuple[str, ...] = ()
    elif isinstance(files, str | os.PathLike):
        names = (os.fspath(files),)
    else:
        names = tuple(os.fspath(file) for file in files)
    return (
        names,
        source.env_file_encoding,
        getattr(source, "env_file_depth", 0) or 0,
        source.case_sensitive,
        source.env_ignore_empty,
        source.env_parse_none_str,
    )


def _not_text(names: tuple[str, ...], encoding: str) -> str:
    for name in names:
        path = Path(name).expanduser()
        if not path.is_file():
            continue
        try:
            path.read_bytes().decode(encoding)
        except UnicodeDecodeError as exc:
            byte = exc.object[exc.start]
            return (
                f"the dotenv file {name} is not {encoding} text (byte 0x{byte:02x} at position "
                f"{exc.start}); save it as {encoding}"
            )
    return f"a dotenv file ({', '.join(names)}) is not {encoding} text; save it as {encoding}"


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
