"""The public API is sessionkit.__all__: locked here so every change to it is deliberate."""

from __future__ import annotations

import inspect

import pytest
from pydantic_settings import BaseSettings

import sessionkit

PUBLIC = [
    "CSRFMiddleware",
    "CSRFSettings",
    "Session",
    "SessionCodec",
    "SessionConfigError",
    "SessionConfigWarning",
    "SessionError",
    "SessionInfo",
    "SessionKey",
    "SessionKeyMissingError",
    "SessionLockedError",
    "SessionMiddleware",
    "SessionNotInstalledError",
    "SessionSettings",
    "SessionStore",
    "SessionStoreError",
    "SessionTooLargeError",
    "SessionUnreadableError",
    "SessionValueError",
    "check_cross_origin",
    "csrf_token",
    "get_session",
    "get_store",
]

#: Each exception, with the built-in base the docs promise besides SessionError.
EXCEPTIONS = {
    "SessionConfigError": ValueError,
    "SessionNotInstalledError": RuntimeError,
    "SessionLockedError": RuntimeError,
    "SessionTooLargeError": ValueError,
    "SessionValueError": ValueError,
    "SessionKeyMissingError": LookupError,
}


def test_all_is_exactly_the_public_api() -> None:
    """__all__ lists exactly the documented names (update PUBLIC on purpose when it grows)."""
    assert sessionkit.__all__ == PUBLIC


def test_all_is_sorted_and_unique() -> None:
    """__all__ is kept sorted, without duplicates."""
    assert sessionkit.__all__ == sorted(set(sessionkit.__all__))


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_is_importable(name: str) -> None:
    """`from sessionkit import NAME` works for every name in __all__."""
    namespace: dict[str, object] = {}
    exec(f"from sessionkit import {name}", namespace)  # noqa: S102  (a name from PUBLIC)
    assert namespace[name] is getattr(sessionkit, name)


def test_public_names_are_defined_in_the_package() -> None:
    """Every public object comes from sessionkit itself, not re-exported from a dependency."""
    for name in PUBLIC:
        module = getattr(sessionkit, name).__module__
        assert module.startswith("sessionkit."), (name, module)


@pytest.mark.parametrize(("name", "builtin_base"), list(EXCEPTIONS.items()))
def test_exceptions_share_one_base(name: str, builtin_base: type[Exception]) -> None:
    """Every exception subclasses SessionError and the built-in error the docs name."""
    exception = getattr(sessionkit, name)
    assert inspect.isclass(exception)
    assert issubclass(exception, sessionkit.SessionError)
    assert issubclass(exception, builtin_base)


def test_session_error_is_an_exception() -> None:
    """SessionError is the documented base, an ordinary Exception."""
    assert issubclass(sessionkit.SessionError, Exception)
    assert sessionkit.SessionError.__bases__ == (Exception,)


def test_config_warning_is_a_user_warning_not_an_error() -> None:
    """SessionConfigWarning is a UserWarning and not part of the exception tree."""
    assert issubclass(sessionkit.SessionConfigWarning, UserWarning)
    assert not issubclass(sessionkit.SessionConfigWarning, sessionkit.SessionError)


def test_kinds_of_the_other_public_names() -> None:
    """Settings are BaseSettings, middlewares and accessors are classes, the rest functions."""
    assert issubclass(sessionkit.SessionSettings, BaseSettings)
    assert issubclass(sessionkit.CSRFSettings, BaseSettings)
    assert issubclass(sessionkit.Session, dict)
    for name in ("SessionMiddleware", "CSRFMiddleware", "SessionCodec", "SessionKey"):
        assert inspect.isclass(getattr(sessionkit, name)), name
    for name in ("get_session", "check_cross_origin", "csrf_token"):
        assert inspect.isfunction(getattr(sessionkit, name)), name
    assert callable(sessionkit.SessionSettings.from_config)
    assert callable(sessionkit.SessionSettings.middleware)


def test_package_ships_type_information() -> None:
    """py.typed is shipped, so users' type checkers read sessionkit's annotations."""
    from importlib.resources import files

    assert files("sessionkit").joinpath("py.typed").is_file()
