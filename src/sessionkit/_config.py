"""What sessionkit's settings models share: explicit values by field name, the environment
by alias only, and every problem reported as one :class:`SessionConfigError`.

Each problem line names the setting, its environment variable, where the value came from,
and the fix. Inputs are never echoed (``hide_input_in_errors``): they may be secrets. For the
same reason the :class:`SessionConfigError` chains nothing: pydantic's ``ValidationError``
holds the input (``errors()``, ``json()``), so it is described, then dropped.

The ``.env`` file is read through :mod:`sessionkit._dotenv`, which never touches the file
system inside a running event loop once the file was read (``./.env`` is read at import).
"""

from __future__ import annotations

import difflib
import inspect
import json
import os
import sys
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from sessionkit import _dotenv
from sessionkit.exceptions import SessionConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import FrameType

# pydantic-settings' own init arguments (_env_file, _secrets_dir...), passed through.
_SOURCE_OPTIONS = frozenset(
    name
    for name in inspect.signature(BaseSettings.__init__).parameters
    if name.startswith("_") and not name.startswith("__")
)


class DeclaredSettings(BaseSettings):
    """A settings model whose construction fails fast with messages that say what to do."""

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        # .env (or _env_file=) is read by settings_customise_sources, through _dotenv's cache;
        # pydantic-settings' own dotenv source is built with no file, so it does no I/O.
        env_file=None,
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        # Fields are read from the environment by their alias only (SESSION_PATH, never
        # PATH); explicit values are given by field name and mapped in __init__.
        validate_by_name=False,
        validate_by_alias=True,
    )

    #: "session" or "CSRF": how messages name this model's settings.
    config_kind: ClassVar[str] = "session"
    #: what the explicit mapping is called in the docs: "sessions_config", "csrf_config"
    config_mapping: ClassVar[str] = "sessions_config"
    #: the fix to suggest when a field's value does not validate
    config_fixes: ClassVar[Mapping[str, str]] = {}

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        _reject_unknown(cls, values)
        by_alias = {env_var(cls, k) if k in cls.model_fields else k: v for k, v in values.items()}
        token = _dotenv.requested_file.set(by_alias.pop("_env_file", _dotenv.DOTENV_FILE))
        try:
            super().__init__(**by_alias)
        except ValidationError as exc:
            problems = _describe(cls, exc, values)
        else:
            problems = self.config_problems()
        finally:
            _dotenv.requested_file.reset(token)
        if problems:
            # Raised outside the except block and from None: neither __cause__ nor
            # __context__ leads to the ValidationError, whose errors() hold the input.
            raise SessionConfigError(problems, cls.config_kind) from None
        self.config_warnings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if isinstance(dotenv_settings, DotEnvSettingsSource):
            _dotenv.load(dotenv_settings, cls.config_kind)
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update`` (by field name), validated as a new instance would be.

        Every current value is given explicitly with the update, so the copy keeps them
        exactly: neither the environment nor ``.env`` (not read) can change them.
        """
        if not update:
            return super().model_copy(deep=deep)
        _reject_unknown(type(self), update, options=False)
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**{**values, **update}, _env_file=None)

    def config_problems(self) -> list[str]:
        """Rules across fields, checked after each field validated: one line per problem."""
        return []

    def config_warnings(self) -> None:
        """Warn about legal but risky values."""

    @classmethod
    def where(cls, field: str) -> str:
        """``field (environment variable NAME)``, for messages."""
        return f"{field} (environment variable {env_var(cls, field)})"


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside sessionkit
    (and the pydantic and Starlette code that builds it), for the function calling warn."""
    frame: FrameType | None = sys._getframe(2)  # the warning function's caller
    level = 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith(_LIBRARIES):
        frame = frame.f_back
        level += 1
    return level


_LIBRARIES = ("sessionkit.", "pydantic", "starlette.")


def env_var(model: type[BaseSettings], field: str) -> str:
    """The environment variable that sets ``field`` of ``model``."""
    alias = model.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else field.upper()


def split_list(value: object) -> object:
    """An environment value as a list: a JSON list, or comma-separated items."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return _json_list(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _json_list(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # Not exc itself: it holds the whole document, which may list secret keys.
        problem = f"not a valid JSON list ({exc.msg} at character {exc.pos})"
    raise ValueError(problem)


def _reject_unknown(
    model: type[DeclaredSettings], values: Mapping[str, Any], *, options: bool = True
) -> None:
    known = model.model_fields
    problems = []
    for name in values:
        if name in known or (options and name in _SOURCE_OPTIONS):
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problems.append(
            f"unknown {model.config_kind} setting {name!r}: {hint}valid settings are "
            f"{', '.join(known)}"
        )
    if problems:
        raise SessionConfigError(problems, model.config_kind)


def _describe(
    model: type[DeclaredSettings], exc: ValidationError, explicit: Mapping[str, Any]
) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = str(error["loc"][0]) if error["loc"] else ""
        field = _field_for(model, loc)
        if field is None:
            problems.append(f"{loc or model.config_kind + ' settings'}: {error['msg']}")
            continue
        fix = model.config_fixes.get(field, "correct the value")
        if error["type"] == "missing":
            problems.append(
                f"{model.where(field)} is not set (not in {model.config_mapping}, the "
                f"environment or .env); {fix}"
            )
            continue
        source = "given explicitly" if field in explicit else _env_source(model, field)
        problems.append(f"{model.where(field)}, {source}: {error['msg']}; {fix}")
    return problems


def _field_for(model: type[BaseSettings], loc: str) -> str | None:
    for name in model.model_fields:
        if loc.lower() in (name, env_var(model, name).lower()):
            return name
    return None


def in_environment(model: type[BaseSettings], field: str) -> bool:
    """Whether the environment sets ``field`` of ``model`` (its variable, in any case)."""
    variable = env_var(model, field)
    return any(name.upper() == variable for name in os.environ)


def _env_source(model: type[BaseSettings], field: str) -> str:
    if in_environment(model, field):
        return f"read from ${env_var(model, field)}"
    return "read from .env or the default"


_dotenv.preload(DeclaredSettings)
