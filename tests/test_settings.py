"""SessionSettings: environment variables, explicit config, validation and secrecy."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
import warnings
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from starlette.datastructures import Secret

import sessionkit
from sessionkit import CSRFSettings, SessionConfigError, SessionConfigWarning, SessionSettings
from tests.conftest import KEY, OLD_KEY

#: Where the sessionkit under test is imported from, for subprocesses to import the same.
SESSIONKIT_ROOT = str(Path(sessionkit.__file__).resolve().parents[1])

#: A third strong key, for lists of fallbacks.
OTHER_KEY = "Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz2Xc4Vb6Nm8Qa0"
#: A strong key that is easy to spot in any text that leaks it.
DISTINCTIVE = "Leak-Canary-7f3a9c2e1b8d4a6f0e5c7b9a1d3f8e2c"


def _unwrap(value: object) -> object:
    """Secrets compared by value; lists of secrets too."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return value


# --- reading the environment -------------------------------------------------------------


def test_defaults_match_the_design_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """With only SECRET_KEY set, every other field has its documented default."""
    monkeypatch.setenv("SECRET_KEY", KEY)
    settings = SessionSettings()
    assert settings.secret_key.get_secret_value() == KEY
    assert settings.secret_key_fallbacks == []
    assert settings.session_cookie == "session"
    assert settings.max_age == 14 * 24 * 60 * 60
    assert settings.path == "/"
    assert settings.domain is None
    assert settings.same_site == "lax"
    assert settings.https_only is False
    assert settings.partitioned is False
    assert settings.refresh_after is None
    assert settings.absolute_lifetime is None
    assert settings.compress is False


ENV_CASES = [
    pytest.param({"SECRET_KEY": OLD_KEY}, "secret_key", OLD_KEY, id="secret-key"),
    pytest.param(
        {"SECRET_KEY_FALLBACKS": f"{OLD_KEY},{OTHER_KEY}"},
        "secret_key_fallbacks",
        [OLD_KEY, OTHER_KEY],
        id="fallbacks-comma",
    ),
    pytest.param(
        {"SECRET_KEY_FALLBACKS": f" {OLD_KEY} , {OTHER_KEY} ,"},
        "secret_key_fallbacks",
        [OLD_KEY, OTHER_KEY],
        id="fallbacks-comma-spaces-trailing",
    ),
    pytest.param(
        {"SECRET_KEY_FALLBACKS": f'["{OLD_KEY}", "{OTHER_KEY}"]'},
        "secret_key_fallbacks",
        [OLD_KEY, OTHER_KEY],
        id="fallbacks-json",
    ),
    pytest.param(
        {"SECRET_KEY_FALLBACKS": "[]"}, "secret_key_fallbacks", [], id="fallbacks-json-empty"
    ),
    pytest.param({"SECRET_KEY_FALLBACKS": ""}, "secret_key_fallbacks", [], id="fallbacks-empty"),
    pytest.param({"SESSION_COOKIE": "sid"}, "session_cookie", "sid", id="cookie"),
    pytest.param({"SESSION_MAX_AGE": "60"}, "max_age", 60, id="max-age"),
    pytest.param({"SESSION_MAX_AGE": "none"}, "max_age", None, id="max-age-none"),
    pytest.param({"SESSION_MAX_AGE": "None"}, "max_age", None, id="max-age-None"),
    pytest.param({"SESSION_MAX_AGE": ""}, "max_age", None, id="max-age-empty"),
    pytest.param({"SESSION_PATH": "/app"}, "path", "/app", id="path"),
    pytest.param({"SESSION_DOMAIN": "example.com"}, "domain", "example.com", id="domain"),
    pytest.param({"SESSION_DOMAIN": ".example.com"}, "domain", ".example.com", id="domain-dot"),
    pytest.param({"SESSION_SAME_SITE": "strict"}, "same_site", "strict", id="same-site"),
    pytest.param({"SESSION_SAME_SITE": "Strict"}, "same_site", "strict", id="same-site-title"),
    pytest.param({"SESSION_SAME_SITE": "LAX"}, "same_site", "lax", id="same-site-upper"),
    pytest.param(
        {"SESSION_SAME_SITE": "NONE", "SESSION_HTTPS_ONLY": "true"},
        "same_site",
        "none",
        id="same-site-none-upper",
    ),
    pytest.param({"SESSION_HTTPS_ONLY": "true"}, "https_only", True, id="https-true"),
    pytest.param({"SESSION_HTTPS_ONLY": "1"}, "https_only", True, id="https-1"),
    pytest.param({"SESSION_HTTPS_ONLY": "false"}, "https_only", False, id="https-false"),
    pytest.param(
        {"SESSION_PARTITIONED": "true", "SESSION_HTTPS_ONLY": "true"},
        "partitioned",
        True,
        id="partitioned",
    ),
    pytest.param({"SESSION_REFRESH_AFTER": "30"}, "refresh_after", 30, id="refresh-after"),
    pytest.param({"SESSION_REFRESH_AFTER": ""}, "refresh_after", None, id="refresh-after-empty"),
    pytest.param(
        {"SESSION_ABSOLUTE_LIFETIME": "3600"}, "absolute_lifetime", 3600, id="absolute-lifetime"
    ),
    pytest.param(
        {"SESSION_ABSOLUTE_LIFETIME": "none"}, "absolute_lifetime", None, id="absolute-none"
    ),
    pytest.param({"SESSION_COMPRESS": "true"}, "compress", True, id="compress"),
    pytest.param({"SESSION_COMPRESS": "0"}, "compress", False, id="compress-0"),
]


@pytest.mark.parametrize(("env", "field", "expected"), ENV_CASES)
def test_each_field_is_read_from_its_environment_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], field: str, expected: object
) -> None:
    """Every field is read from its documented environment variable and parsed."""
    monkeypatch.setenv("SECRET_KEY", KEY)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = SessionSettings()
    assert _unwrap(getattr(settings, field)) == expected


def test_plain_path_variable_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shell's PATH never becomes the cookie path: only SESSION_PATH is read."""
    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.setenv("PATH", "/from-the-shell")
    monkeypatch.setenv("DOMAIN", "shell.example")
    monkeypatch.setenv("MAX_AGE", "5")
    settings = SessionSettings()
    assert settings.path == "/"
    assert settings.domain is None
    assert settings.max_age == 14 * 24 * 60 * 60


def test_dotenv_file_in_working_directory_is_read(tmp_path: Path) -> None:
    """A .env file in the current directory supplies SECRET_KEY and SESSION_* values."""
    (tmp_path / ".env").write_text(
        f"SECRET_KEY={KEY}\nSESSION_COOKIE=from_dotenv\nSESSION_MAX_AGE=77\n", encoding="utf-8"
    )
    settings = SessionSettings()
    assert settings.secret_key.get_secret_value() == KEY
    assert settings.session_cookie == "from_dotenv"
    assert settings.max_age == 77


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real environment variable overrides the same name in .env."""
    (tmp_path / ".env").write_text(f"SECRET_KEY={KEY}\nSESSION_COOKIE=dotenv\n", encoding="utf-8")
    monkeypatch.setenv("SESSION_COOKIE", "environ")
    assert SessionSettings().session_cookie == "environ"


# --- from_config -------------------------------------------------------------------------


def test_from_config_explicit_values_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """sessions_config values override the environment; unset ones still come from it."""
    monkeypatch.setenv("SECRET_KEY", OLD_KEY)
    monkeypatch.setenv("SESSION_MAX_AGE", "60")
    monkeypatch.setenv("SESSION_COOKIE", "env_cookie")
    settings = SessionSettings.from_config({"secret_key": KEY, "max_age": 120})
    assert settings.secret_key.get_secret_value() == KEY
    assert settings.max_age == 120
    assert settings.session_cookie == "env_cookie"


def test_from_config_explicit_none_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit None (browser-session cookie) overrides SESSION_MAX_AGE."""
    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.setenv("SESSION_MAX_AGE", "60")
    assert SessionSettings.from_config({"max_age": None}).max_age is None


def test_from_config_explicit_wins_over_dotenv(tmp_path: Path) -> None:
    """sessions_config values override .env values too."""
    (tmp_path / ".env").write_text(f"SECRET_KEY={KEY}\nSESSION_PATH=/dotenv\n", encoding="utf-8")
    assert SessionSettings.from_config({"path": "/explicit"}).path == "/explicit"


def test_from_config_does_not_mutate_the_mapping() -> None:
    """The caller's sessions_config is left exactly as it was."""
    config: dict[str, Any] = {"secret_key": KEY, "max_age": 5, "secret_key_fallbacks": [OLD_KEY]}
    before = {"secret_key": KEY, "max_age": 5, "secret_key_fallbacks": [OLD_KEY]}
    SessionSettings.from_config(config)
    assert config == before


def test_from_config_accepts_read_only_mapping() -> None:
    """Any Mapping works as sessions_config, not only a dict."""
    settings = SessionSettings.from_config(MappingProxyType({"secret_key": KEY, "path": "/m"}))
    assert settings.path == "/m"


@pytest.mark.parametrize("config", [None, {}], ids=["none", "empty"])
def test_from_config_without_values_reads_environment_only(
    monkeypatch: pytest.MonkeyPatch, config: dict[str, Any] | None
) -> None:
    """from_config(None) and from_config({}) equal SessionSettings() from the environment."""
    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.setenv("SESSION_COOKIE", "env_only")
    settings = SessionSettings.from_config(config)
    assert settings.session_cookie == "env_only"
    assert settings.model_dump() == SessionSettings().model_dump()
    assert SessionSettings.from_config().session_cookie == "env_only"


def test_starlette_secret_is_accepted_as_secret_key() -> None:
    """starlette.datastructures.Secret (from starlette.config) unwraps to the key."""
    assert SessionSettings(secret_key=Secret(KEY)).secret_key.get_secret_value() == KEY
    from_config = SessionSettings.from_config({"secret_key": Secret(KEY)})
    assert from_config.secret_key.get_secret_value() == KEY


def test_explicit_fallbacks_list_is_accepted() -> None:
    """secret_key_fallbacks given as a Python list keeps its order."""
    settings = SessionSettings(secret_key=KEY, secret_key_fallbacks=[OLD_KEY, OTHER_KEY])
    assert _unwrap(settings.secret_key_fallbacks) == [OLD_KEY, OTHER_KEY]


def test_signing_keys_are_current_first_then_fallbacks() -> None:
    """signing_keys() unwraps the current key followed by the fallbacks in order."""
    settings = SessionSettings(secret_key=KEY, secret_key_fallbacks=[OLD_KEY, OTHER_KEY])
    assert settings.signing_keys() == [KEY, OLD_KEY, OTHER_KEY]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({}, 7 * 24 * 60 * 60, id="half-of-default-max-age"),
        pytest.param({"max_age": 101}, 50, id="half-of-odd-max-age"),
        pytest.param({"max_age": 100, "refresh_after": 10}, 10, id="explicit"),
        pytest.param({"max_age": None}, None, id="browser-session"),
        pytest.param({"max_age": None, "refresh_after": 30}, 30, id="explicit-without-max-age"),
    ],
)
def test_refresh_interval(config: dict[str, Any], expected: int | None) -> None:
    """refresh_interval is refresh_after, else half of max_age, else None."""
    assert SessionSettings(secret_key=KEY, **config).refresh_interval == expected


def test_settings_middleware_builds_a_starlette_middleware_entry() -> None:
    """settings.middleware() is a Middleware for SessionMiddleware carrying these settings."""
    from starlette.middleware import Middleware

    from sessionkit import SessionMiddleware

    settings = SessionSettings(secret_key=KEY)
    entry = settings.middleware()
    assert isinstance(entry, Middleware)
    assert entry.cls is SessionMiddleware
    assert entry.kwargs == {"settings": settings}


# --- validation: valid edge cases ----------------------------------------------------------


VALID_CONFIGS = [
    pytest.param({"same_site": "none", "https_only": True}, id="same-site-none-secure"),
    pytest.param({"partitioned": True, "https_only": True}, id="partitioned-secure"),
    pytest.param({"session_cookie": "__Host-sid", "https_only": True}, id="host-prefix"),
    pytest.param({"session_cookie": "__Secure-sid", "https_only": True}, id="secure-prefix"),
    pytest.param(
        {"session_cookie": "__Secure-sid", "https_only": True, "domain": "example.com"},
        id="secure-prefix-domain",
    ),
    pytest.param({"domain": ".example.com"}, id="domain-leading-dot"),
    pytest.param({"domain": "sub.example.co.uk"}, id="domain"),
    pytest.param({"session_cookie": "s!#$%&'*+-.^_`|~1"}, id="cookie-token-punctuation"),
    pytest.param({"path": "/a/b-c_d.e"}, id="path"),
    pytest.param({"max_age": None}, id="browser-session"),
    pytest.param({"max_age": 1}, id="max-age-1"),
    pytest.param({"refresh_after": 1, "absolute_lifetime": 1}, id="minimal-lifetimes"),
    pytest.param({"secret_key_fallbacks": [OLD_KEY]}, id="fallback"),
    pytest.param({"compress": True}, id="compress"),
]


@pytest.mark.parametrize("config", VALID_CONFIGS)
def test_valid_settings_are_accepted_without_warning(config: dict[str, Any]) -> None:
    """Legal, safe combinations construct without error or warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings = SessionSettings(secret_key=KEY, **config)
    for name, value in config.items():
        assert _unwrap(getattr(settings, name)) == value


# --- validation: errors ---------------------------------------------------------------------


def _secure_fix() -> str:
    return r"https_only=True \(SESSION_HTTPS_ONLY=true\)"


INVALID_CONFIGS = [
    pytest.param(
        {"same_site": "none"},
        "same_site",
        "SESSION_SAME_SITE",
        r"SameSite=None cookies without Secure.*" + _secure_fix(),
        id="same-site-none-insecure",
    ),
    pytest.param(
        {"partitioned": True},
        "partitioned",
        "SESSION_PARTITIONED",
        r"Partitioned cookies without Secure.*" + _secure_fix(),
        id="partitioned-insecure",
    ),
    pytest.param(
        {"session_cookie": "__Host-sid"},
        "session_cookie",
        "SESSION_COOKIE",
        r"__Host- prefix.*" + _secure_fix(),
        id="host-prefix-insecure",
    ),
    pytest.param(
        {"session_cookie": "__host-sid"},
        "session_cookie",
        "SESSION_COOKIE",
        r"__Host- prefix.*" + _secure_fix(),
        id="host-prefix-lowercase-insecure",
    ),
    pytest.param(
        {"session_cookie": "__Host-sid", "https_only": True, "domain": "example.com"},
        "domain",
        "SESSION_DOMAIN",
        r"__Host- prefix, which forbids a Domain; unset domain",
        id="host-prefix-domain",
    ),
    pytest.param(
        {"session_cookie": "__Host-sid", "https_only": True, "path": "/app"},
        "path",
        "SESSION_PATH",
        r"__Host- prefix, which requires path '/'; set path to '/'",
        id="host-prefix-path",
    ),
    pytest.param(
        {"session_cookie": "__Secure-sid"},
        "session_cookie",
        "SESSION_COOKIE",
        r"__Secure- prefix.*" + _secure_fix(),
        id="secure-prefix-insecure",
    ),
    *(
        pytest.param(
            {"session_cookie": name},
            "session_cookie",
            "SESSION_COOKIE",
            r"not a valid cookie name.*choose a name like 'session'",
            id=f"cookie-name-{label}",
        )
        for label, name in [
            ("space", "my session"),
            ("equals", "a=b"),
            ("semicolon", "a;b"),
            ("comma", "a,b"),
            ("quote", 'a"b'),
            ("parens", "(sid)"),
            ("non-ascii", "caf\u00e9"),
            ("empty", ""),
        ]
    ),
    pytest.param(
        {"session_cookie": "sid\n"},
        "session_cookie",
        "SESSION_COOKIE",
        r"not a valid cookie name",
        id="cookie-name-trailing-newline",
    ),
    *(
        pytest.param(
            {field: value},
            field,
            variable,
            r"break or inject cookie attributes; remove those characters",
            id=f"{field}-{label}",
        )
        for field, variable in [("path", "SESSION_PATH"), ("domain", "SESSION_DOMAIN")]
        for label, value in [
            ("semicolon", "/x; secure"),
            ("space", "/a b"),
            ("comma", "/a,b"),
            ("newline", "/a\r\nSet-Cookie: x=1"),
            ("nul", "/a\x00"),
            ("tab", "/a\tb"),
            ("del", "/a\x7f"),
        ]
    ),
    pytest.param(
        {"path": ""},
        "path",
        "SESSION_PATH",
        r"is '', which is empty",
        id="path-empty",
    ),
    pytest.param(
        {"refresh_after": 0},
        "refresh_after",
        "SESSION_REFRESH_AFTER",
        r"is 0, but it must be a positive number of seconds",
        id="refresh-after-zero",
    ),
    pytest.param(
        {"refresh_after": -5},
        "refresh_after",
        "SESSION_REFRESH_AFTER",
        r"is -5, but it must be a positive number of seconds",
        id="refresh-after-negative",
    ),
    pytest.param(
        {"absolute_lifetime": 0},
        "absolute_lifetime",
        "SESSION_ABSOLUTE_LIFETIME",
        r"must be a positive number of seconds; .*no limit",
        id="absolute-lifetime-zero",
    ),
    pytest.param(
        {"secret_key_fallbacks": [OLD_KEY, " "]},
        "secret_key_fallbacks",
        "SECRET_KEY_FALLBACKS",
        r"contains an empty key; remove the empty entry",
        id="fallback-empty",
    ),
    pytest.param(
        {"same_site": "sideways"},
        "same_site",
        "SESSION_SAME_SITE",
        r"given explicitly.*use one of 'lax', 'strict' or 'none'",
        id="same-site-unknown",
    ),
    pytest.param(
        {"max_age": "two weeks"},
        "max_age",
        "SESSION_MAX_AGE",
        r"given explicitly.*give a whole number of seconds",
        id="max-age-text",
    ),
    pytest.param(
        {"max_age": 1.5},
        "max_age",
        "SESSION_MAX_AGE",
        r"give a whole number of seconds",
        id="max-age-fraction",
    ),
    pytest.param(
        {"https_only": "maybe"},
        "https_only",
        "SESSION_HTTPS_ONLY",
        r"use true or false",
        id="https-only-text",
    ),
    pytest.param(
        {"partitioned": "maybe"},
        "partitioned",
        "SESSION_PARTITIONED",
        r"use true or false",
        id="partitioned-text",
    ),
    pytest.param(
        {"compress": "maybe"},
        "compress",
        "SESSION_COMPRESS",
        r"use true or false",
        id="compress-text",
    ),
    pytest.param(
        {"refresh_after": "soon"},
        "refresh_after",
        "SESSION_REFRESH_AFTER",
        r"give a whole number of seconds",
        id="refresh-after-text",
    ),
    pytest.param(
        {"secret_key_fallbacks": [OLD_KEY, 5]},
        "secret_key_fallbacks",
        "SECRET_KEY_FALLBACKS",
        r"comma-separated list or a JSON list of strings",
        id="fallback-not-string",
    ),
]


@pytest.mark.parametrize(("config", "field", "variable", "fix"), INVALID_CONFIGS)
def test_invalid_setting_raises_config_error_naming_setting_variable_and_fix(
    config: dict[str, Any], field: str, variable: str, fix: str
) -> None:
    """Each rule of DESIGN §2 'Startup' is a SessionConfigError naming field, env var, fix."""
    with pytest.raises(SessionConfigError, match=rf"{field} \(environment variable {variable}\)"):
        SessionSettings(secret_key=KEY, **config)
    with pytest.raises(SessionConfigError, match=fix) as info:
        SessionSettings(secret_key=KEY, **config)
    assert isinstance(info.value, ValueError)
    assert len(info.value.problems) >= 1


@pytest.mark.parametrize(
    ("env", "field", "variable", "fix"),
    [
        pytest.param(
            {"SESSION_SAME_SITE": "none"},
            "same_site",
            "SESSION_SAME_SITE",
            r"https_only=True",
            id="same-site-none",
        ),
        pytest.param(
            {"SESSION_COOKIE": "bad name"},
            "session_cookie",
            "SESSION_COOKIE",
            r"choose a name like 'session'",
            id="cookie-name",
        ),
        pytest.param(
            {"SESSION_MAX_AGE": "abc"},
            "max_age",
            "SESSION_MAX_AGE",
            r"read from \$SESSION_MAX_AGE.*whole number of seconds",
            id="max-age",
        ),
        pytest.param(
            {"SESSION_HTTPS_ONLY": "perhaps"},
            "https_only",
            "SESSION_HTTPS_ONLY",
            r"read from \$SESSION_HTTPS_ONLY.*use true or false",
            id="https-only",
        ),
        pytest.param(
            {"SECRET_KEY_FALLBACKS": f'["{OLD_KEY}"'},
            "secret_key_fallbacks",
            "SECRET_KEY_FALLBACKS",
            r"read from \$SECRET_KEY_FALLBACKS.*JSON list of strings",
            id="fallbacks-broken-json",
        ),
    ],
)
def test_invalid_environment_value_raises_config_error(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], field: str, variable: str, fix: str
) -> None:
    """A bad value in the environment is reported like an explicit one, naming its source."""
    monkeypatch.setenv("SECRET_KEY", KEY)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SessionConfigError, match=rf"{field} \(environment variable {variable}\)"):
        SessionSettings()
    with pytest.raises(SessionConfigError, match=fix):
        SessionSettings()


def test_every_problem_is_reported_at_once() -> None:
    """Several bad settings give one error listing each of them."""
    with pytest.raises(SessionConfigError, match="2 invalid session settings") as info:
        SessionSettings(secret_key=KEY, same_site="none", partitioned=True)
    assert len(info.value.problems) == 2
    assert any(p.startswith("same_site") for p in info.value.problems)
    assert any(p.startswith("partitioned") for p in info.value.problems)


def test_config_error_is_a_value_error() -> None:
    """SessionConfigError can be caught as ValueError, as DESIGN §1 promises."""
    with pytest.raises(ValueError, match="session_cookie"):
        SessionSettings(secret_key=KEY, session_cookie="no good")


# --- the secret key ---------------------------------------------------------------------------

_KEY_HELP = (
    r"(?s)(?=.*SECRET_KEY)(?=.*secret_key)(?=.*config item)"
    r"(?=.*`python -m sessionkit generate-key`)"
)


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({}, id="missing"),
        pytest.param({"secret_key": ""}, id="empty"),
        pytest.param({"secret_key": "   "}, id="spaces"),
        pytest.param({"secret_key": "\t\n "}, id="whitespace"),
    ],
)
def test_missing_or_blank_explicit_key_is_rejected_with_help(config: dict[str, Any]) -> None:
    """No usable key: the message names SECRET_KEY, secret_key and how to generate one."""
    with pytest.raises(SessionConfigError, match=_KEY_HELP):
        SessionSettings.from_config(config)


@pytest.mark.parametrize("value", ["", "  ", "\t"], ids=["empty", "spaces", "tab"])
def test_blank_key_in_environment_is_rejected_with_help(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """SECRET_KEY set but blank in the environment is rejected like a missing key."""
    monkeypatch.setenv("SECRET_KEY", value)
    with pytest.raises(SessionConfigError, match=_KEY_HELP):
        SessionSettings()


def test_missing_key_error_says_where_it_looked() -> None:
    """The missing-key message lists the places searched for a key."""
    with pytest.raises(SessionConfigError, match=r"is not set \(not in sessions_config, the env"):
        SessionSettings()


# --- unknown keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("max_ag", "max_age"),
        ("secret", "secret_key"),
        ("samesite", "same_site"),
        ("session_cooky", "session_cookie"),
        ("secret_key_fallback", "secret_key_fallbacks"),
    ],
)
def test_unknown_key_is_rejected_with_closest_suggestion(name: str, suggestion: str) -> None:
    """An unknown sessions_config key is named, with the closest valid one suggested."""
    with pytest.raises(
        SessionConfigError,
        match=rf"unknown session setting '{name}': did you mean '{suggestion}'\?",
    ):
        SessionSettings.from_config({"secret_key": KEY, name: 1})


def test_unknown_key_lists_every_valid_setting() -> None:
    """The unknown-key message lists all valid settings, and no suggestion if none is close."""
    with pytest.raises(SessionConfigError) as info:
        SessionSettings.from_config({"secret_key": KEY, "zzzzzz": 1})
    message = str(info.value)
    assert "unknown session setting 'zzzzzz'" in message
    assert "did you mean" not in message
    for field in SessionSettings.model_fields:
        assert field in message


def test_several_unknown_keys_are_all_named() -> None:
    """Every unknown key is reported, not only the first."""
    with pytest.raises(SessionConfigError) as info:
        SessionSettings.from_config({"secret_key": KEY, "colour": 1, "flavour": 2})
    assert len(info.value.problems) == 2
    assert "'colour'" in str(info.value)
    assert "'flavour'" in str(info.value)


def test_environment_variable_name_is_not_a_config_key() -> None:
    """sessions_config uses field names; an env-var name there is an unknown setting."""
    with pytest.raises(SessionConfigError, match="unknown session setting 'SESSION_COOKIE'"):
        SessionSettings.from_config({"secret_key": KEY, "SESSION_COOKIE": "sid"})


def test_unknown_underscore_key_is_rejected() -> None:
    """A typo with a leading underscore is an unknown setting too, not silently ignored."""
    with pytest.raises(SessionConfigError, match="unknown session setting '_secret_key'"):
        SessionSettings.from_config({"secret_key": KEY, "_secret_key": OLD_KEY})


# --- warnings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weak",
    [
        pytest.param("short", id="short"),
        pytest.param("a" * 64, id="long-but-one-character"),
        pytest.param("abcabcabcabcabcabcabcabcabcabcabcabc", id="long-few-characters"),
        pytest.param("Xy7!" * 3, id="varied-but-short"),
    ],
)
def test_weak_key_warns_but_works(weak: str) -> None:
    """A weak key is a SessionConfigWarning, not an error: Starlette setups keep running."""
    with pytest.warns(
        SessionConfigWarning, match=r"secret_key \(environment variable SECRET_KEY\)"
    ):
        settings = SessionSettings(secret_key=weak)
    assert settings.secret_key.get_secret_value() == weak


def test_weak_key_warning_says_how_to_generate_a_key() -> None:
    """The weak-key warning points at `python -m sessionkit generate-key`."""
    with pytest.warns(SessionConfigWarning, match=r"looks weak.*python -m sessionkit generate-key"):
        SessionSettings(secret_key="tiny")


def test_weak_fallback_key_warns() -> None:
    """A weak fallback key is flagged under secret_key_fallbacks."""
    with pytest.warns(SessionConfigWarning, match=r"secret_key_fallbacks .*looks weak"):
        SessionSettings(secret_key=KEY, secret_key_fallbacks=["old"])


@pytest.mark.parametrize("max_age", [0, -1, -3600])
def test_non_positive_max_age_warns_but_works(max_age: int) -> None:
    """max_age <= 0 is legal (Starlette accepts it) but warns that sessions expire at once."""
    with pytest.warns(SessionConfigWarning, match=rf"max_age .*SESSION_MAX_AGE.* is {max_age}"):
        settings = SessionSettings(secret_key=KEY, max_age=max_age)
    assert settings.max_age == max_age


def test_non_positive_max_age_warning_spells_the_environment_value() -> None:
    """The warning says how the environment spells a browser-session cookie: empty or 'none'."""
    with pytest.warns(SessionConfigWarning, match=r"SESSION_MAX_AGE empty or 'none'"):
        SessionSettings(secret_key=KEY, max_age=0)


def test_relative_path_warns() -> None:
    """A path not starting with '/' warns: browsers ignore such a Path."""
    with pytest.warns(SessionConfigWarning, match=r"path .*does not start with '/'"):
        SessionSettings(secret_key=KEY, path="app")


def test_strong_keys_do_not_warn() -> None:
    """The test keys are strong: no warning with a current key and a fallback."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SessionSettings(secret_key=KEY, secret_key_fallbacks=[OLD_KEY, OTHER_KEY])


# --- no secret ever leaks ------------------------------------------------------------------


def _all_text(exc: BaseException) -> str:
    """str and repr of an exception and of everything chained to it."""
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


LEAKY_CONFIGS = [
    pytest.param({"secret_key": DISTINCTIVE, "same_site": "none"}, id="other-rule"),
    pytest.param({"secret_key": DISTINCTIVE, "max_age": "abc"}, id="other-type-error"),
    pytest.param({"secret_key": [DISTINCTIVE]}, id="key-wrong-type"),
    pytest.param({"secret_key": {"k": DISTINCTIVE}}, id="key-mapping"),
    pytest.param({"secret_key": KEY, "secret_key_fallbacks": [DISTINCTIVE, 5]}, id="fb-type"),
    pytest.param({"secret_key": KEY, "secret_key_fallbacks": "[" + DISTINCTIVE}, id="fb-json"),
    pytest.param({"secret_key": KEY, "secret_key_fallbacks": [DISTINCTIVE, ""]}, id="fb-empty"),
    pytest.param({"secret_key": KEY, "secret_key_fallbacks": 42}, id="fb-int"),
    pytest.param({"secret_key": DISTINCTIVE, "colour": 1}, id="unknown-key"),
]


@pytest.mark.parametrize("config", LEAKY_CONFIGS)
def test_no_secret_in_config_errors_or_their_causes(config: dict[str, Any]) -> None:
    """Neither the error, its problems, nor its chained cause contains the secret key."""
    with pytest.raises(SessionConfigError) as info:
        SessionSettings.from_config(config)
    text = _all_text(info.value) + "\n".join(info.value.problems)
    assert DISTINCTIVE not in text
    assert DISTINCTIVE[:20] not in text


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"SECRET_KEY": DISTINCTIVE, "SESSION_MAX_AGE": "abc"}, id="env-other"),
        pytest.param(
            {"SECRET_KEY": KEY, "SECRET_KEY_FALLBACKS": f'["{DISTINCTIVE}", 5]'}, id="env-fb-type"
        ),
        pytest.param(
            {"SECRET_KEY": KEY, "SECRET_KEY_FALLBACKS": f'["{DISTINCTIVE}"'}, id="env-fb-json"
        ),
    ],
)
def test_no_secret_in_errors_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    """Errors about environment values never echo a key read from the environment."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SessionConfigError) as info:
        SessionSettings()
    assert DISTINCTIVE not in _all_text(info.value)


def test_no_secret_in_repr_or_str_of_settings() -> None:
    """repr() and str() of settings mask the key and the fallbacks."""
    settings = SessionSettings(secret_key=DISTINCTIVE, secret_key_fallbacks=[DISTINCTIVE[::-1]])
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert DISTINCTIVE not in text
        assert DISTINCTIVE[::-1] not in text
    assert "**********" in repr(settings)


def test_no_secret_in_warnings() -> None:
    """The weak-key warning names the setting, never the key itself."""
    weak = "Canary-9z8y"
    with pytest.warns(SessionConfigWarning) as record:
        SessionSettings(secret_key=weak, secret_key_fallbacks=["Old-Canary-1"])
    assert len(record) == 2
    for warning in record:
        assert weak not in str(warning.message)
        assert "Old-Canary-1" not in str(warning.message)


def test_refresh_after_not_below_max_age_warns(key: str) -> None:
    """refresh_after >= max_age warns: sessions would expire before any re-issue."""
    with pytest.warns(SessionConfigWarning, match=r"refresh_after .*SESSION_REFRESH_AFTER.*"):
        SessionSettings(secret_key=key, max_age=60, refresh_after=60)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        pytest.param({"path": "/€"}, "path", id="non-ascii-path"),
        pytest.param({"path": "/a\x85b"}, "path", id="c1-control-in-path"),
        pytest.param({"domain": "exämple.com"}, "domain", id="non-ascii-domain"),
        pytest.param({"domain": "a=b"}, "domain", id="equals-in-domain"),
    ],
)
def test_non_ascii_or_odd_attribute_rejected(key: str, config: dict[str, str], field: str) -> None:
    """path/domain that are not plain ASCII fail at startup naming the setting."""
    with pytest.raises(SessionConfigError, match=rf"{field} \(environment variable SESSION_"):
        SessionSettings(secret_key=key, **config)


def test_weak_key_warning_points_at_the_caller(key: str) -> None:
    """A SessionConfigWarning is attributed to the user's line, not sessionkit's."""
    with pytest.warns(SessionConfigWarning) as caught:
        SessionSettings.from_config({"secret_key": "weak"})
    assert caught[0].filename == __file__


# --- no secret anywhere in an exception's chain ----------------------------------------------

#: A key given as an int: its digits must not appear either.
DISTINCTIVE_NUMBER = 739184629173648291


def _every_rendering(exc: BaseException) -> str:
    """Every text an exception chain offers: traceback, str, repr, attributes, pydantic's
    errors() and json(), a decode error's bytes, for __cause__ and __context__ alike."""
    parts = ["".join(traceback.format_exception(exc))]
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        parts.append(repr(getattr(current, "object", "")))  # UnicodeDecodeError's bytes
        if isinstance(current, ValidationError):
            parts += [repr(current.errors()), current.json()]
            for error in current.errors():
                nested = error.get("ctx", {}).get("error")
                if isinstance(nested, BaseException):
                    pending.append(nested)
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return "\n".join(parts)


def _assert_no_leak(exc: BaseException, *secrets: str) -> None:
    text = _every_rendering(exc)
    for secret in secrets:
        assert secret not in text


CHAIN_CONFIGS = [
    pytest.param({"secret_key": DISTINCTIVE_NUMBER}, id="key-int"),
    pytest.param({"secret_key": [DISTINCTIVE]}, id="key-list"),
    pytest.param({"secret_key": {"k": DISTINCTIVE}}, id="key-dict"),
    pytest.param({"secret_key": DISTINCTIVE.encode() + b"\xff"}, id="key-bytes"),
    pytest.param({"secret_key": KEY, "secret_key_fallbacks": f'["{DISTINCTIVE}"'}, id="fb-json"),
    pytest.param({"secret_key": KEY, "secret_key_fallbacks": [DISTINCTIVE, 5]}, id="fb-type"),
]


@pytest.mark.parametrize("config", CHAIN_CONFIGS)
def test_no_secret_anywhere_in_the_chain_of_a_config_error(config: dict[str, Any]) -> None:
    """A bad explicit key chains nothing that holds it: no cause, no context, no input."""
    with pytest.raises(SessionConfigError) as info:
        SessionSettings(**config)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert info.value.problems
    _assert_no_leak(info.value, DISTINCTIVE, str(DISTINCTIVE_NUMBER))


@pytest.mark.parametrize(
    "fallbacks",
    [
        pytest.param(f'["{DISTINCTIVE}"', id="bad-json"),
        pytest.param(f"[{DISTINCTIVE_NUMBER}]", id="int"),
        pytest.param(f'[["{DISTINCTIVE}"]]', id="list"),
        pytest.param(f'[{{"k": "{DISTINCTIVE}"}}]', id="dict"),
    ],
)
def test_no_secret_anywhere_in_the_chain_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, fallbacks: str
) -> None:
    """A bad SECRET_KEY_FALLBACKS in the environment chains nothing that holds a key."""
    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", fallbacks)
    with pytest.raises(SessionConfigError, match="SECRET_KEY_FALLBACKS") as info:
        SessionSettings()
    _assert_no_leak(info.value, DISTINCTIVE, str(DISTINCTIVE_NUMBER), KEY)


def test_bad_json_fallbacks_are_described_without_the_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bad JSON in SECRET_KEY_FALLBACKS says where it breaks, never what it holds."""
    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", f'["{DISTINCTIVE}"')
    with pytest.raises(SessionConfigError, match=r"not a valid JSON list \(.* at character \d+\)"):
        SessionSettings()


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"trusted_origins": f'["https://{DISTINCTIVE}"'}, id="bad-json"),
        pytest.param({"trusted_origins": {"k": DISTINCTIVE}}, id="dict"),
        pytest.param({"exempt_paths": [DISTINCTIVE_NUMBER]}, id="int"),
    ],
)
def test_no_input_anywhere_in_the_chain_of_a_csrf_config_error(config: dict[str, Any]) -> None:
    """CSRFSettings share the rule: a config error chains nothing that holds the input."""
    with pytest.raises(SessionConfigError) as info:
        CSRFSettings(**config)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    _assert_no_leak(info.value, DISTINCTIVE, str(DISTINCTIVE_NUMBER))


def test_no_input_anywhere_in_the_chain_of_a_csrf_environment_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bad JSON in CSRF_TRUSTED_ORIGINS chains nothing that holds the document."""
    monkeypatch.setenv("CSRF_TRUSTED_ORIGINS", f'["https://{DISTINCTIVE}"')
    with pytest.raises(SessionConfigError, match="CSRF_TRUSTED_ORIGINS") as info:
        CSRFSettings()
    _assert_no_leak(info.value, DISTINCTIVE)


# --- a .env that is not UTF-8 ----------------------------------------------------------------

LATIN_1_DOTENV = f"SESSION_COOKIE=ok\nSECRET_KEY=Caf\u00e9-{DISTINCTIVE}\n".encode("latin-1")


def test_dotenv_that_is_not_utf8_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    """A latin-1 .env is a SessionConfigError naming the file and the byte, not its content."""
    (tmp_path / ".env").write_bytes(LATIN_1_DOTENV)
    with pytest.raises(
        SessionConfigError,
        match=r"dotenv file \.env is not utf-8 text \(byte 0xe9 at position 32\); save it as",
    ) as info:
        SessionSettings()
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    _assert_no_leak(info.value, DISTINCTIVE, "Caf")


def test_check_reports_a_dotenv_that_is_not_utf8(tmp_path: Path) -> None:
    """`sessionkit check` with a latin-1 .env exits 1 naming the file, with no traceback."""
    (tmp_path / ".env").write_bytes(LATIN_1_DOTENV)
    result = subprocess.run(
        [sys.executable, "-m", "sessionkit", "check"],
        env={"PATH": os.environ["PATH"], "PYTHONUTF8": "1", "PYTHONPATH": SESSIONKIT_ROOT},
        capture_output=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert ".env is not utf-8 text" in result.stderr
    assert DISTINCTIVE not in result.stdout + result.stderr


# --- copies are validated ------------------------------------------------------------------


def test_model_copy_with_an_invalid_update_is_refused() -> None:
    """model_copy(update=...) validates: an injected path never reaches a Set-Cookie header."""
    settings = SessionSettings(secret_key=KEY)
    with pytest.raises(SessionConfigError, match=r"path \(environment variable SESSION_PATH\)"):
        settings.model_copy(update={"path": "/; domain=evil.example"})


def test_model_copy_with_an_unknown_update_is_refused() -> None:
    """model_copy(update=...) names an unknown setting, as construction does."""
    with pytest.raises(SessionConfigError, match="unknown session setting 'secure'"):
        SessionSettings(secret_key=KEY).model_copy(update={"secure": True})


def test_model_copy_keeps_every_other_value_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid copy takes the update and keeps every other value, even once the environment
    and .env changed."""
    monkeypatch.setenv("SESSION_MAX_AGE", "3600")
    (tmp_path / ".env").write_text("SESSION_COOKIE=from_dotenv\n", encoding="utf-8")
    settings = SessionSettings(secret_key=KEY, secret_key_fallbacks=[OLD_KEY], https_only=True)
    monkeypatch.setenv("SESSION_MAX_AGE", "60")
    (tmp_path / ".env").write_text("SESSION_COOKIE=changed\n", encoding="utf-8")
    copy = settings.model_copy(update={"path": "/app"})
    assert copy.path == "/app"
    expected = {**settings.model_dump(), "path": "/app"}
    assert {k: _unwrap(v) for k, v in copy.model_dump().items()} == {
        k: _unwrap(v) for k, v in expected.items()
    }
    assert (copy.max_age, copy.session_cookie) == (3600, "from_dotenv")
    assert settings.model_copy().path == "/"


def test_csrf_model_copy_is_validated() -> None:
    """CSRFSettings.model_copy(update=...) validates too."""
    settings = CSRFSettings(trusted_origins=["https://app.example.com"])
    with pytest.raises(SessionConfigError, match="CSRF_TRUSTED_ORIGINS"):
        settings.model_copy(update={"trusted_origins": ["app.example.com/path"]})
    copy = settings.model_copy(update={"use_tokens": True})
    assert (copy.trusted_origins, copy.use_tokens) == (["https://app.example.com"], True)


# --- .env and the event loop ---------------------------------------------------------------


def test_dotenv_read_at_import_is_used_inside_a_running_loop(tmp_path: Path) -> None:
    """In a fresh process, .env read when sessionkit is imported supplies settings built in a
    running loop under blockbuster, with no blocking call."""
    (tmp_path / ".env").write_text(f"SECRET_KEY={KEY}\nSESSION_COOKIE=imported\n")
    script = (
        "import asyncio\n"
        "from blockbuster import blockbuster_ctx\n"
        "from starlette.applications import Starlette\n"
        "from sessionkit import SessionMiddleware\n"
        "async def build():\n"
        "    with blockbuster_ctx():\n"
        "        return SessionMiddleware(Starlette()).settings.session_cookie\n"
        "print(asyncio.run(build()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        # Unbuffered: once blockbuster patched buffered writes, flushing at exit can crash.
        env={"PATH": os.environ["PATH"], "PYTHONPATH": SESSIONKIT_ROOT, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "imported"
