"""The command line: ``python -m sessionkit COMMAND``, also installed as ``sessionkit``.

Commands:

- ``generate-key``: print a new strong secret key;
- ``check``: validate the session settings in the environment (and ``.env``) and summarise
  them, secrets masked;
- ``decode COOKIE``: verify a session cookie with the configured keys and print its data as JSON;
- ``demo [--host H] [--port P]``: serve the demo application with uvicorn;
- ``sessions list --user ID`` / ``sessions revoke --user ID | --handle H``: list or end
  sessions kept in Redis (in :mod:`sessionkit._cli_sessions`).

Exit status: 0 on success; 1 when the settings or the cookie are bad, the store cannot be
reached, or the session to revoke does not exist (the reason goes to stderr, without a
traceback); 2 for a usage error. No command ever prints a secret key.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
import warnings
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from sessionkit._config import env_var as config_env_var
from sessionkit._config import in_environment
from sessionkit._factory import make_store
from sessionkit.codec import SEALED_PREFIX, Decoded, SessionCodec
from sessionkit.csrf import CSRFSettings
from sessionkit.exceptions import SessionConfigError
from sessionkit.settings import SessionSettings, env_var

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    _Commands = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["main"]

KEY_BYTES = 32  #: random bytes in a generated key: 43 URL-safe characters


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    args = build_parser(prog).parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    return command(args)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "sessionkit",
        description="HTTP sessions for ASGI apps: keys, settings, cookies, stored sessions, demo.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    commands.add_parser(
        "generate-key",
        help="print a new strong secret key",
        description=f"Print a new secret key: {KEY_BYTES} random bytes, URL-safe base64. "
        'Use it as SECRET_KEY, e.g. export SECRET_KEY="$(python -m sessionkit generate-key)".',
    ).set_defaults(command=generate_key)
    commands.add_parser(
        "check",
        help="validate the session settings and summarise them",
        description="Build the session settings from the environment and ./.env as the app "
        "would at startup. Exit 0 with a summary (secrets masked), or 1 with what is wrong.",
    ).set_defaults(command=check_settings)
    _add_decode(commands)
    _add_demo(commands)
    from sessionkit._cli_sessions import add_sessions  # it uses this module's helpers

    add_sessions(commands)
    return parser


def _add_decode(commands: _Commands) -> None:
    decode = commands.add_parser(
        "decode",
        help="verify a session cookie and print its data as JSON",
        description="Verify a session cookie with SECRET_KEY and SECRET_KEY_FALLBACKS (from the "
        "environment and ./.env) and print the session as JSON. Exit 1 if the cookie is "
        "expired, tampered with, or signed with another key.",
    )
    decode.add_argument(
        "--max-age",
        type=_max_age,
        default=_NOT_GIVEN,
        metavar="SECONDS",
        help="the app's max_age, when it sets one in code (default: SESSION_MAX_AGE, .env "
        "or 14 days); 'none' for a browser-session cookie",
    )
    decode.add_argument(
        "--cookie-name",
        default=_NOT_GIVEN,
        metavar="NAME",
        help="the app's session_cookie, when it sets one in code (default: SESSION_COOKIE, "
        ".env or 'session'): a cookie is signed for its name",
    )
    decode.add_argument(
        "cookie",
        metavar="COOKIE",
        help="the cookie's value (a leading 'NAME=' is ignored); '-' reads it from stdin, "
        "which keeps it out of your shell history",
    )
    decode.set_defaults(command=decode_cookie)


def _add_demo(commands: _Commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="serve the demo todo application",
        description="Serve the demo application with uvicorn. Without SECRET_KEY it uses a "
        "temporary key, so sessions do not survive a restart.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    demo.add_argument("--port", type=_port, default=8000, help="port (default: %(default)s)")
    demo.set_defaults(command=serve_demo)


def generate_key(args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(KEY_BYTES))
    return 0


def check_settings(args: argparse.Namespace) -> int:
    settings = _load_settings()
    if settings is None:
        return 1
    try:
        make_store(settings)  # what only building the store finds (no connection is made)
        csrf = CSRFSettings()
    except SessionConfigError as exc:
        _error(str(exc))
        return 1
    rows: dict[str, list[tuple[str, str, str]]] = {"session": [], "CSRF": []}
    for field in SessionSettings.model_fields:
        shown = _show(getattr(settings, field))
        if field == "refresh_after" and settings.refresh_after is None:
            shown = _effective_refresh(settings)
        rows["session"].append((field, env_var(field), shown))
    for field in CSRFSettings.model_fields:
        rows["CSRF"].append(
            (field, config_env_var(CSRFSettings, field), _show(getattr(csrf, field)))
        )
    every = [row for kind in rows.values() for row in kind]
    names, variables = (max(len(row[column]) for row in every) for column in (0, 1))
    for kind, table in rows.items():
        print(f"The {kind} settings are valid:")
        for field, variable, shown in table:
            print(f"  {field:<{names}} {variable:<{variables}} {shown}")
    return 0


def decode_cookie(args: argparse.Namespace) -> int:
    given = {"max_age": args.max_age, "session_cookie": args.cookie_name}
    explicit = {field: value for field, value in given.items() if value is not _NOT_GIVEN}
    settings = _load_settings(**explicit)
    if settings is None:
        return 1
    cookie = _cookie_value(sys.stdin.read() if args.cookie == "-" else args.cookie, settings)
    decoded = SessionCodec.from_settings(settings).decode(cookie)
    used = _settings_used(settings, explicit)
    if decoded is None:
        _error(f"the cookie was rejected: {_why_rejected(cookie, settings)} ({used})")
        return 1
    print(json.dumps(decoded.data, indent=2, ensure_ascii=False))
    print(f"{_describe_valid(decoded, cookie, settings)} ({used})", file=sys.stderr)
    return 0


def _settings_used(settings: SessionSettings, explicit: dict[str, object]) -> str:
    """Which cookie name and max_age the verdict used, and where each came from."""
    parts = []
    for field, option in (("session_cookie", "--cookie-name"), ("max_age", "--max-age")):
        if field in explicit:
            source = f"from {option}"
        elif in_environment(SessionSettings, field):
            source = f"from {env_var(field)}"
        else:
            source = f"from .env or the default; the app's may differ: give {option}"
        value = getattr(settings, field)
        shown = f"{value} s" if field == "max_age" and value is not None else _show(value)
        parts.append(f"{field} {shown}, {source}")
    return "; ".join(parts)


def _effective_refresh(settings: SessionSettings) -> str:
    """What an unset refresh_after means with these settings."""
    interval = settings.refresh_interval
    if interval is None:
        return "never (max_age is none)"
    return f"{interval} (half of max_age)"


def serve_demo(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        _error("the demo needs uvicorn: pip install 'sessionkit[demo]'")
        return 1
    from sessionkit.demo import create_app

    settings = _demo_settings()
    if settings is None:
        return 1
    try:
        app = create_app(settings)
    except SessionConfigError as exc:
        _error(str(exc))
        return 1
    uvicorn.run(app, host=args.host, port=args.port)
    return 0


def _load_settings(**explicit: Any) -> SessionSettings | None:
    """The settings, warnings printed; ``None`` once the error is printed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            settings = SessionSettings(**explicit)
        except SessionConfigError as exc:
            _error(str(exc))
            return None
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return settings


def _demo_settings() -> SessionSettings | None:
    """The settings from the environment; a temporary key (and a notice) when none is set."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the attempt that counts prints them
        try:
            SessionSettings()
        except SessionConfigError:
            pass  # no usable key, or another problem: the attempt below reports the others
        else:
            return _load_settings()
    settings = _load_settings(secret_key=secrets.token_urlsafe(KEY_BYTES))
    if settings is not None:
        print(_TEMPORARY_KEY_NOTICE, file=sys.stderr)
    return settings


_TEMPORARY_KEY_NOTICE = """\
notice: SECRET_KEY is not set (or is empty), so the demo signs sessions with a temporary key
made for this run: sessions will not survive a restart. To keep them, set a key first:
    export SECRET_KEY="$(python -m sessionkit generate-key)"
"""


def _cookie_value(text: str, settings: SessionSettings) -> str:
    """The cookie value in ``text``: without whitespace, ``NAME=`` prefix or quotes."""
    value = text.strip()
    prefix = f"{settings.session_cookie}="
    if value.startswith(prefix):
        value = value[len(prefix) :]
    if len(value) > 1 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def _why_rejected(cookie: str, settings: SessionSettings) -> str:
    """Why ``cookie`` gives no session: expired (and how), malformed, or a bad signature."""
    with warnings.catch_warnings():  # printed once already, when the settings were read
        warnings.simplefilter("ignore")
        unlimited = settings.model_copy(update={"max_age": None, "absolute_lifetime": None})
    lenient = SessionCodec.from_settings(unlimited)  # the app's codec, without lifetimes
    decoded = lenient.decode(cookie)
    now = time.time()
    if decoded is not None:
        lifetime = settings.absolute_lifetime
        if lifetime is not None and now - decoded.created_at > lifetime:
            return (
                f"expired: the session began {_when(decoded.created_at)}, longer ago than "
                f"absolute_lifetime ({env_var('absolute_lifetime')}), {lifetime} seconds"
            )
        return (
            f"expired: it was signed {_when(decoded.signed_at)}, and max_age "
            f"({env_var('max_age')}) is {settings.max_age} seconds"
        )
    if cookie.startswith(SEALED_PREFIX):
        return _why_not_opened(settings)
    if cookie.count(".") < 2:
        return (
            "malformed: this is not a session cookie value (sessionkit's "
            "[.]PAYLOAD.CREATED.TIMESTAMP.SIGNATURE, or Starlette's PAYLOAD.TIMESTAMP.SIGNATURE)"
        )
    any_format = SessionCodec(settings.signing_keys(), cookie_name=settings.session_cookie)
    if not settings.read_starlette_cookies and any_format.decode(cookie) is not None:
        return (
            "it is in Starlette's format, which read_starlette_cookies "
            f"({env_var('read_starlette_cookies')}) is set to refuse"
        )
    return (
        "bad signature: it was not signed with SECRET_KEY or a key in SECRET_KEY_FALLBACKS "
        f"for the cookie name {settings.session_cookie!r} (it was tampered with, truncated, "
        "signed with another key or for another cookie name), or its content is unreadable"
    )


def _why_not_opened(settings: SessionSettings) -> str:
    """Why a sealed cookie gives no session, once it is known not to be expired."""
    if not settings.encrypt:
        return (
            f"it is a sealed (encrypted) cookie, and encrypt ({env_var('encrypt')}) is off: "
            "set it to true to open sealed cookies"
        )
    return (
        "cannot be opened: it was not sealed with SECRET_KEY or a key in SECRET_KEY_FALLBACKS "
        f"for the cookie name {settings.session_cookie!r} (it was tampered with, truncated, "
        "sealed with another key or for another cookie name)"
    )


def _describe_valid(decoded: Decoded, cookie: str, settings: SessionSettings) -> str:
    sealed = cookie.startswith(SEALED_PREFIX)
    if decoded.stale:
        key = "an old key" if sealed else "an old key or in Starlette's format"
    else:
        key = "the current key"
    if settings.encrypt and not sealed:
        key += " (not sealed: the app re-issues it sealed)"
    text = f"valid: {'sealed' if sealed else 'signed'} with {key} {_when(decoded.signed_at)}"
    if settings.max_age is not None:
        text += f"; it expires {_when(decoded.signed_at + settings.max_age)}"
    return text


def _when(timestamp: float) -> str:
    return f"at {_moment(timestamp)}"


def _moment(timestamp: float) -> str:
    """``timestamp`` in UTC, ISO 8601, and relative to now: ``2026-12-04T03:00:00Z (5 min ago)``."""
    moment = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
    seconds = round(time.time() - timestamp)
    relative = f"{_duration(seconds)} ago" if seconds >= 0 else f"in {_duration(-seconds)}"
    return f"{moment.replace('+00:00', 'Z')} ({relative})"


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _show(value: object) -> str:
    """A setting's value for display; secrets are masked, never shown."""
    if isinstance(value, SecretStr):
        return "********"
    if isinstance(value, list):
        if not value:
            return "none"
        if any(isinstance(item, SecretStr) for item in value):  # the fallback keys
            return f"{len(value)} key(s), masked"
        return ", ".join(str(item) for item in value)
    return "none" if value is None else str(value)


#: The default of an option not given: None is a value --max-age can take.
_NOT_GIVEN: Any = object()


def _max_age(text: str) -> int | None:
    if text.strip().lower() in {"none", ""}:
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of seconds (or 'none')"
        ) from None


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return port


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
