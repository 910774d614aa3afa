"""The command line, run as users run it: ``python -m sessionkit`` in a subprocess."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from itsdangerous import TimestampSigner
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionkit import SessionCodec, SessionSettings
from sessionkit.sealing import SealedCodec
from tests.conftest import KEY, OLD_KEY

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from starlette.requests import Request

    from tests.redis_server import RedisServer

COMMANDS = ["generate-key", "check", "decode", "demo", "sessions"]
URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
# Talk to the demo directly, whatever proxy the machine is configured with.
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal, explicit environment for the subprocess: no variable leaks in."""
    # PYTHONPATH passes through so a checkout's src/ is what runs (unset in CI).
    inherited = {name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ}
    return {"PATH": os.environ["PATH"], "PYTHONUTF8": "1", **inherited, **(extra or {})}


def run(
    *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sessionkit", *args],
        env=environment(env),
        input=stdin,
        capture_output=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def cookie(
    data: dict[str, object], *, key: str = KEY, age: float = 0, name: str = "session"
) -> str:
    """A cookie ``name`` holding ``data``, signed with ``key`` ``age`` seconds ago."""
    return SessionCodec([key], cookie_name=name, clock=lambda: time.time() - age).encode(data)


def test_help_lists_every_command() -> None:
    """--help exits 0 and lists every command."""
    result = run("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    """Each command's --help exits 0 with its usage line."""
    result = run(command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: python -m sessionkit {command}")


def test_no_command_is_a_usage_error() -> None:
    """Without a command the exit status is 2 and stderr asks for one."""
    result = run()
    assert result.returncode == 2
    assert "COMMAND" in result.stderr


def test_console_script_is_installed() -> None:
    """The `sessionkit` console script runs the same command line."""
    script = Path(sys.executable).with_name("sessionkit")
    result = subprocess.run(
        [str(script), "--help"], env=environment(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("usage: sessionkit")


def test_generate_key_prints_a_strong_url_safe_key() -> None:
    """generate-key prints one URL-safe key of 32 random bytes that settings accept silently."""
    result = run("generate-key")
    assert result.returncode == 0
    key = result.stdout.strip()
    assert result.stdout == key + "\n"
    assert len(key) >= 43  # 32 bytes in unpadded base64
    assert URL_SAFE.match(key)
    SessionSettings(secret_key=key)  # no weak-key warning: warnings are errors here


def test_generate_key_gives_a_new_key_each_time() -> None:
    """Two runs of generate-key never print the same key."""
    assert run("generate-key").stdout != run("generate-key").stdout


def test_check_without_a_key_fails_naming_secret_key() -> None:
    """check without SECRET_KEY exits 1 with the startup error, and no traceback."""
    result = run("check")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "SECRET_KEY" in result.stderr
    assert "generate-key" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_summarises_valid_settings_without_secrets() -> None:
    """check exits 0 listing every setting, with neither key printed."""
    result = run("check", env={"SECRET_KEY": KEY, "SECRET_KEY_FALLBACKS": OLD_KEY})
    assert result.returncode == 0
    for variable in ("SECRET_KEY", "SECRET_KEY_FALLBACKS", "SESSION_MAX_AGE", "SESSION_COOKIE"):
        assert variable in result.stdout
    assert "1 key(s), masked" in result.stdout
    output = result.stdout + result.stderr
    assert KEY not in output
    assert OLD_KEY not in output


def test_check_lists_the_csrf_settings() -> None:
    """check also validates and lists the CSRF settings the demo and apps use."""
    env = {"SECRET_KEY": KEY, "CSRF_TRUSTED_ORIGINS": "https://app.example.com"}
    result = run("check", env=env)
    assert result.returncode == 0
    assert "CSRF_TRUSTED_ORIGINS" in result.stdout
    assert "https://app.example.com" in result.stdout


def test_check_reports_invalid_csrf_settings() -> None:
    """check exits 1 with the CSRF startup error when a CSRF_* variable is invalid."""
    env = {"SECRET_KEY": KEY, "CSRF_TRUSTED_ORIGINS": "https://app.example.com/path"}
    result = run("check", env=env)
    assert result.returncode == 1
    assert "CSRF_TRUSTED_ORIGINS" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_reads_dot_env() -> None:
    """check reads SECRET_KEY and other settings from ./.env."""
    Path(".env").write_text(f"SECRET_KEY={KEY}\nSESSION_COOKIE=from_dotenv\n")
    result = run("check")
    assert result.returncode == 0
    assert "from_dotenv" in result.stdout
    assert KEY not in result.stdout


def test_check_reports_invalid_settings() -> None:
    """check exits 1 naming a setting browsers would reject, without printing the key."""
    result = run("check", env={"SECRET_KEY": KEY, "SESSION_SAME_SITE": "none"})
    assert result.returncode == 1
    assert "same_site" in result.stderr
    assert "SESSION_HTTPS_ONLY" in result.stderr
    assert KEY not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("env", "shown"),
    [
        pytest.param({}, "604800 (half of max_age)", id="default"),
        pytest.param({"SESSION_MAX_AGE": "3600"}, "1800 (half of max_age)", id="max-age"),
        pytest.param({"SESSION_MAX_AGE": "none"}, "never (max_age is none)", id="browser-session"),
        pytest.param({"SESSION_REFRESH_AFTER": "60"}, "60", id="explicit"),
    ],
)
def test_check_shows_the_effective_refresh_after(env: dict[str, str], shown: str) -> None:
    """check shows what an unset refresh_after means (half of max_age), not 'none'."""
    result = run("check", env={"SECRET_KEY": KEY, **env})
    assert result.returncode == 0
    line = next(line for line in result.stdout.splitlines() if "SESSION_REFRESH_AFTER" in line)
    assert line.split("SESSION_REFRESH_AFTER", 1)[1].strip() == shown


def test_check_warns_about_a_weak_key() -> None:
    """A weak key passes check (exit 0) with a warning on stderr that does not show it."""
    weak = "aaaaaaaaaaaaaaaa"
    result = run("check", env={"SECRET_KEY": weak})
    assert result.returncode == 0
    assert "warning:" in result.stderr
    assert "weak" in result.stderr
    assert weak not in result.stdout + result.stderr


def test_decode_prints_the_session_as_json() -> None:
    """decode verifies a cookie with SECRET_KEY and prints its data as JSON."""
    data = {"last_todo_id": 3, "name": "Zoë"}
    result = run("decode", cookie(data), env={"SECRET_KEY": KEY})
    assert result.returncode == 0
    assert json.loads(result.stdout) == data
    assert "valid" in result.stderr


def test_decode_accepts_a_fallback_key() -> None:
    """A cookie signed with a key in SECRET_KEY_FALLBACKS decodes, noted as an old key."""
    env = {"SECRET_KEY": KEY, "SECRET_KEY_FALLBACKS": OLD_KEY}
    result = run("decode", cookie({"n": 1}, key=OLD_KEY), env=env)
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"n": 1}
    assert "old key" in result.stderr


@pytest.mark.parametrize("form", ["session={}", '"{}"', "  {}\n"])
def test_decode_accepts_pasted_forms(form: str) -> None:
    """decode ignores a leading 'session=', quotes and whitespace around the value."""
    result = run("decode", form.format(cookie({"n": 1})), env={"SECRET_KEY": KEY})
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"n": 1}


def test_decode_reads_stdin() -> None:
    """decode - reads the cookie from stdin, out of the shell's history."""
    result = run("decode", "-", env={"SECRET_KEY": KEY}, stdin=cookie({"n": 2}) + "\n")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"n": 2}


def test_decode_rejects_a_tampered_cookie() -> None:
    """A cookie whose data was changed exits 1 with 'bad signature', no traceback."""
    signed = cookie({"admin": False})
    forged = cookie({"admin": True}, key=OLD_KEY).split(".")[0] + signed[signed.index(".") :]
    result = run("decode", forged, env={"SECRET_KEY": KEY})
    assert result.returncode == 1
    assert result.stdout == ""
    assert "bad signature" in result.stderr
    assert "Traceback" not in result.stderr


def test_decode_rejects_another_keys_cookie() -> None:
    """A cookie signed with an unknown key exits 1."""
    result = run("decode", cookie({"n": 1}, key=OLD_KEY), env={"SECRET_KEY": KEY})
    assert result.returncode == 1
    assert "bad signature" in result.stderr


def test_decode_rejects_a_malformed_value() -> None:
    """A value that is no session cookie at all exits 1 as malformed."""
    result = run("decode", "not-a-cookie", env={"SECRET_KEY": KEY})
    assert result.returncode == 1
    assert "malformed" in result.stderr
    assert "PAYLOAD.CREATED.TIMESTAMP.SIGNATURE" in result.stderr


def test_decode_reports_an_expired_cookie() -> None:
    """A cookie older than max_age exits 1 saying it expired and which setting decides."""
    env = {"SECRET_KEY": KEY, "SESSION_MAX_AGE": "60"}
    result = run("decode", cookie({"n": 1}, age=3600), env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "expired" in result.stderr
    assert "SESSION_MAX_AGE" in result.stderr


def test_decode_takes_the_apps_max_age_and_says_which_it_used() -> None:
    """--max-age judges expiry by the app's max_age set in code, and the verdict names it."""
    two_hours_old = cookie({"n": 1}, age=7200)
    by_default = run("decode", two_hours_old, env={"SECRET_KEY": KEY})
    assert by_default.returncode == 0
    assert "max_age 1209600 s, from .env or the default" in by_default.stderr
    assert "give --max-age" in by_default.stderr
    by_option = run("decode", "--max-age", "3600", two_hours_old, env={"SECRET_KEY": KEY})
    assert by_option.returncode == 1
    assert "expired" in by_option.stderr
    assert "max_age 3600 s, from --max-age" in by_option.stderr
    from_env = run("decode", two_hours_old, env={"SECRET_KEY": KEY, "SESSION_MAX_AGE": "3600"})
    assert from_env.returncode == 1
    assert "max_age 3600 s, from SESSION_MAX_AGE" in from_env.stderr


def test_decode_max_age_none_means_no_expiry() -> None:
    """--max-age none reads an old cookie as a browser-session cookie, never expired."""
    result = run(
        "decode", "--max-age", "none", cookie({"n": 1}, age=10**8), env={"SECRET_KEY": KEY}
    )
    assert result.returncode == 0
    assert "max_age none, from --max-age" in result.stderr


def test_decode_rejects_a_bad_max_age() -> None:
    """--max-age takes whole seconds or 'none'; anything else is a usage error."""
    result = run("decode", "--max-age", "soon", cookie({"n": 1}), env={"SECRET_KEY": KEY})
    assert result.returncode == 2
    assert "'soon' is not a whole number of seconds" in result.stderr


def test_decode_takes_the_apps_cookie_name() -> None:
    """A cookie is signed for its name: --cookie-name verifies one issued under another name."""
    admin = cookie({"role": "admin"}, name="admin_session")
    refused = run("decode", admin, env={"SECRET_KEY": KEY})
    assert refused.returncode == 1
    assert "for the cookie name 'session'" in refused.stderr
    result = run("decode", "--cookie-name", "admin_session", admin, env={"SECRET_KEY": KEY})
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"role": "admin"}
    assert "session_cookie admin_session, from --cookie-name" in result.stderr


def test_decode_says_when_starlette_cookies_are_refused() -> None:
    """Starlette cookies refused by SESSION_READ_STARLETTE_COOKIES=false: decode says so."""
    legacy = TimestampSigner(KEY).sign(base64.b64encode(b'{"n": 1}')).decode()
    assert run("decode", legacy, env={"SECRET_KEY": KEY}).returncode == 0
    env = {"SECRET_KEY": KEY, "SESSION_READ_STARLETTE_COOKIES": "false"}
    result = run("decode", legacy, env=env)
    assert result.returncode == 1
    assert "Starlette's format" in result.stderr
    assert "SESSION_READ_STARLETTE_COOKIES" in result.stderr


def test_decode_without_a_key_fails_naming_secret_key() -> None:
    """decode without SECRET_KEY exits 1 with the configuration error."""
    result = run("decode", cookie({"n": 1}))
    assert result.returncode == 1
    assert "SECRET_KEY" in result.stderr


def test_demo_rejects_a_bad_port() -> None:
    """demo --port outside 0-65535 is a usage error (exit 2)."""
    result = run("demo", "--port", "70000")
    assert result.returncode == 2
    assert "not a port number" in result.stderr


def test_demo_refuses_invalid_settings() -> None:
    """demo exits 1 with the configuration error, instead of serving, on bad settings."""
    result = run("demo", "--port", str(free_port()), env={"SESSION_SAME_SITE": "none"})
    assert result.returncode == 1
    assert "same_site" in result.stderr
    assert "SECRET_KEY" not in result.stderr  # the demo would make a key: not the problem
    assert "Uvicorn running" not in result.stderr


def test_demo_without_a_key_serves_with_a_temporary_one() -> None:
    """demo with no SECRET_KEY serves the app and says sessions will not survive a restart."""
    output, body = serve_and_get("/", env={})
    assert "Todos" in body
    assert "temporary key" in output
    assert "will not survive a restart" in output


def test_demo_uses_the_configured_key() -> None:
    """demo with SECRET_KEY signs sessions with it and prints no temporary-key notice."""
    output, body = serve_and_get("/unseen-todos", env={"SECRET_KEY": KEY})
    assert len(json.loads(body)) == 3
    assert "temporary key" not in output
    assert KEY not in output


def test_demo_serves_a_server_side_store() -> None:
    """demo with SESSION_STORE=memory serves the page with its session kept on the server."""
    output, body = serve_and_get("/", env={"SECRET_KEY": KEY, "SESSION_STORE": "memory"})
    assert "Kept on the server, in the memory store" in body
    assert "need a server-side store" not in body
    assert "this process only" in output  # the memory store says it is for development


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_and_get(path: str, env: Mapping[str, str]) -> tuple[str, str]:
    """Run ``demo`` on a free port, GET ``path``, stop it: its output and the body."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sessionkit", "demo", "--port", str(port)],
        env=environment({"PYTHONUNBUFFERED": "1", **env}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        encoding="utf-8",
    )
    try:
        body = wait_for(f"http://127.0.0.1:{port}{path}", process)
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    return output, body


def wait_for(url: str, process: subprocess.Popen[str], timeout: float = 20) -> str:
    """The body at ``url`` once the server answers; fails if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the demo server exited early"
        try:
            with LOCAL.open(url, timeout=2) as response:
                body: str = response.read().decode()
                return body
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    pytest.fail(f"the demo server did not answer {url} within {timeout} seconds")


# --- sealed cookies (encrypt=True) ---------------------------------------------------------


def sealed_cookie(data: dict[str, object], *, key: str = KEY, age: float = 0) -> str:
    """A sealed cookie holding ``data``, sealed with ``key`` ``age`` seconds ago."""
    return SealedCodec([key], clock=lambda: time.time() - age).encode(data)


ENCRYPTED = {"SECRET_KEY": KEY, "SESSION_ENCRYPT": "true"}


def test_decode_opens_a_sealed_cookie() -> None:
    """With SESSION_ENCRYPT=true, decode opens a sealed cookie and says it was sealed."""
    result = run("decode", sealed_cookie({"name": "Zoë"}), env=ENCRYPTED)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"name": "Zoë"}
    assert "valid: sealed with the current key" in result.stderr


def test_decode_opens_a_cookie_sealed_with_a_fallback_key() -> None:
    """A cookie sealed with a key in SECRET_KEY_FALLBACKS opens, noted as an old key."""
    env = {**ENCRYPTED, "SECRET_KEY_FALLBACKS": OLD_KEY}
    result = run("decode", sealed_cookie({"n": 1}, key=OLD_KEY), env=env)
    assert result.returncode == 0, result.stderr
    assert "sealed with an old key" in result.stderr


def test_decode_with_encryption_reads_a_signed_cookie_as_due_for_sealing() -> None:
    """With encryption on, a signed cookie decodes, marked as re-issued sealed on use."""
    result = run("decode", cookie({"n": 1}), env=ENCRYPTED)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"n": 1}
    assert "not sealed: the app re-issues it sealed" in result.stderr


def test_decode_reports_an_expired_sealed_cookie() -> None:
    """A sealed cookie older than max_age exits 1 saying it expired."""
    env = {**ENCRYPTED, "SESSION_MAX_AGE": "60"}
    result = run("decode", sealed_cookie({"n": 1}, age=3600), env=env)
    assert result.returncode == 1
    assert "expired" in result.stderr
    assert "SESSION_MAX_AGE" in result.stderr


def test_decode_rejects_a_tampered_sealed_cookie() -> None:
    """A changed sealed cookie exits 1 as one that cannot be opened, no traceback."""
    value = sealed_cookie({"admin": False})
    forged = value[:20] + ("A" if value[20] != "A" else "B") + value[21:]
    result = run("decode", forged, env=ENCRYPTED)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "cannot be opened" in result.stderr
    assert "Traceback" not in result.stderr


def test_decode_of_a_sealed_cookie_without_encryption_names_the_setting() -> None:
    """A sealed cookie while encryption is off exits 1 naming SESSION_ENCRYPT."""
    result = run("decode", sealed_cookie({"n": 1}), env={"SECRET_KEY": KEY})
    assert result.returncode == 1
    assert "sealed (encrypted) cookie" in result.stderr
    assert "SESSION_ENCRYPT" in result.stderr


def test_check_shows_encryption_on() -> None:
    """check lists encrypt with its variable and value."""
    result = run("check", env=ENCRYPTED)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^  encrypt +SESSION_ENCRYPT +True$", result.stdout, re.M)


def test_check_refuses_compression_with_encryption() -> None:
    """check exits 1 when compress and encrypt are both on, naming both variables."""
    result = run("check", env={**ENCRYPTED, "SESSION_COMPRESS": "true"})
    assert result.returncode == 1
    assert "SESSION_COMPRESS" in result.stderr
    assert "SESSION_ENCRYPT" in result.stderr


# --- sessions (the Redis store) ------------------------------------------------------------


async def who(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(request.session.get("user_id", "signed out")))


async def sign_in(request: Request) -> PlainTextResponse:
    request.session["user_id"] = request.query_params["user"]
    return PlainTextResponse("ok")


@dataclass
class Devices:
    """Three browsers signed in to a real app on Redis: two as user 42, one as user 7."""

    env: dict[str, str]
    settings: SessionSettings
    phone: TestClient
    laptop: TestClient
    other: TestClient

    def handles(self, user: str) -> list[str]:
        """The user's session handles, newest first, as the Python API lists them."""

        async def listed() -> list[str]:
            async with self.settings.open_store() as store:
                return [info.handle for info in await store.list_user(user)]

        return asyncio.run(listed())


@pytest.fixture
def devices(redis_db: RedisServer) -> Iterator[Devices]:
    env = {"SECRET_KEY": KEY, "SESSION_STORE": "redis", "SESSION_REDIS_URL": redis_db.url}
    settings = SessionSettings(secret_key=KEY, store="redis", redis_url=redis_db.url)
    routes = [Route("/sign-in", sign_in), Route("/me", who)]
    app = Starlette(routes=routes, middleware=[settings.middleware()])
    with TestClient(app) as phone, TestClient(app) as laptop, TestClient(app) as other:
        assert phone.get("/sign-in", params={"user": "42"}).status_code == 200
        time.sleep(1.1)  # distinct creation times (the store keeps whole seconds)
        assert laptop.get("/sign-in", params={"user": "42"}).status_code == 200
        assert other.get("/sign-in", params={"user": "7"}).status_code == 200
        yield Devices(env, settings, phone, laptop, other)


ISO_AND_RELATIVE = (
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \((?:\d+ (?:s|min|h|d) ago|in \d+ (?:s|min|h|d))\)"
)


def test_sessions_list_prints_a_users_sessions_newest_first(devices: Devices) -> None:
    """sessions list --user prints a table of the user's sessions, newest first, times in UTC."""
    result = run("sessions", "list", "--user", "42", env=devices.env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "2 live sessions of user 42, newest first:"
    assert lines[1].split() == ["HANDLE", "CREATED", "LAST", "SEEN", "EXPIRES"]
    laptop, phone = devices.handles("42")
    assert [line.split()[0] for line in lines[2:]] == [laptop, phone]
    for line in lines[2:]:
        assert len(re.findall(ISO_AND_RELATIVE, line)) == 3, line
        # expires: max_age (14 days) after its last use, a second or so ago
        assert re.search(r"\(in 1[34] d\)$", line), line
    assert devices.handles("7")[0] not in result.stdout


def test_sessions_list_json_gives_every_field(devices: Devices) -> None:
    """sessions list --json prints each session's handle and its three times as ISO 8601 UTC."""
    result = run("sessions", "list", "--user", "42", "--json", env=devices.env)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [entry["handle"] for entry in listed] == devices.handles("42")
    for entry in listed:
        times = [datetime.fromisoformat(entry[name]) for name in TIMES]
        assert all(moment.utcoffset() == timedelta(0) for moment in times)
        assert times[0] <= times[1] < times[2]
        assert entry[TIMES[0]].endswith("Z")


TIMES = ("created_at", "last_seen_at", "expires_at")


def test_sessions_list_of_a_user_without_sessions(redis_db: RedisServer) -> None:
    """sessions list for a user with no session says so and exits 0."""
    env = {"SECRET_KEY": KEY, "SESSION_STORE": "redis", "SESSION_REDIS_URL": redis_db.url}
    result = run("sessions", "list", "--user", "nobody", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "user nobody has no live sessions\n"
    assert json.loads(run("sessions", "list", "--user", "x", "--json", env=env).stdout) == []


def test_sessions_revoke_a_handle_signs_that_device_out(devices: Devices) -> None:
    """sessions revoke --handle ends that session only: the app sees that device signed out."""
    laptop, phone = devices.handles("42")
    result = run("sessions", "revoke", "--handle", phone, env=devices.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ended the session {phone}\n"
    assert devices.phone.get("/me").text == "signed out"
    assert devices.laptop.get("/me").text == "42"
    assert devices.handles("42") == [laptop]


def test_sessions_revoke_an_unknown_handle_exits_1(devices: Devices) -> None:
    """sessions revoke --handle of no live session exits 1 saying so; nothing is ended."""
    gone = devices.handles("42")[0]
    assert run("sessions", "revoke", "--handle", gone, env=devices.env).returncode == 0
    for handle in (gone, "not-a-handle"):
        result = run("sessions", "revoke", "--handle", handle, env=devices.env)
        assert result.returncode == 1
        assert f"no live session has the handle {handle!r}" in result.stderr
        assert "Traceback" not in result.stderr
    assert devices.phone.get("/me").text == "42"


def test_sessions_revoke_a_user_signs_out_every_device(devices: Devices) -> None:
    """sessions revoke --user ends all of the user's sessions, says how many, and no other's."""
    result = run("sessions", "revoke", "--user", "42", env=devices.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ended 2 sessions of user 42\n"
    assert devices.phone.get("/me").text == "signed out"
    assert devices.laptop.get("/me").text == "signed out"
    assert devices.other.get("/me").text == "7"
    again = run("sessions", "revoke", "--user", "42", env=devices.env)
    assert (again.returncode, again.stdout) == (0, "ended 0 sessions of user 42\n")


def test_sessions_read_the_settings_from_dot_env(devices: Devices) -> None:
    """sessions reads SESSION_STORE, SESSION_REDIS_URL and the key from ./.env as the app does."""
    Path(".env").write_text("".join(f"{name}={value}\n" for name, value in devices.env.items()))
    result = run("sessions", "list", "--user", "7")
    assert result.returncode == 0, result.stderr
    assert devices.handles("7")[0] in result.stdout


@pytest.mark.parametrize("option", [[], ["--user", "42", "--handle", "abc"]])
def test_sessions_revoke_takes_exactly_one_of_user_and_handle(option: list[str]) -> None:
    """sessions revoke with neither or both of --user and --handle is a usage error (exit 2)."""
    result = run("sessions", "revoke", *option, env={"SECRET_KEY": KEY})
    assert result.returncode == 2
    assert "--user" in result.stderr
    assert "--handle" in result.stderr


@pytest.mark.parametrize(
    ("store", "why"),
    [("cookie", "keeps no record of sessions"), ("memory", "inside the application's process")],
)
@pytest.mark.parametrize("command", [["list", "--user", "42"], ["revoke", "--handle", "abc"]])
def test_sessions_need_the_redis_store(store: str, why: str, command: list[str]) -> None:
    """sessions on the cookie or memory store exits 1 saying why and naming SESSION_STORE."""
    result = run("sessions", *command, env={"SECRET_KEY": KEY, "SESSION_STORE": store})
    assert result.returncode == 1
    assert why in result.stderr
    assert "SESSION_STORE=redis" in result.stderr
    assert "Traceback" not in result.stderr


def test_sessions_when_redis_cannot_be_reached(tmp_path: Path) -> None:
    """sessions with Redis down exits 1 with the store's error, never the URL's password."""
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    env = {"SECRET_KEY": KEY, "SESSION_STORE": "redis", "SESSION_REDIS_URL": url}
    result = run("sessions", "revoke", "--user", "42", env=env)
    assert result.returncode == 1
    assert "the Redis session store failed" in result.stderr
    assert "SESSION_REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


def test_sessions_by_user_need_a_user_key() -> None:
    """sessions --user with SESSION_USER_KEY none exits 1 naming it and --handle, no Redis call."""
    env = {"SECRET_KEY": KEY, "SESSION_STORE": "redis", "SESSION_USER_KEY": "none"}
    env["SESSION_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # never reached
    for command in (["list", "--user", "42"], ["revoke", "--user", "42"]):
        result = run("sessions", *command, env=env)
        assert result.returncode == 1
        assert "SESSION_USER_KEY" in result.stderr
        assert "sessionkit sessions revoke --handle H" in result.stderr  # what still works
        assert "is Redis running" not in result.stderr
