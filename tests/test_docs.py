"""The documentation's examples run, type-check, and do what the pages say they do.

Every ```python block under docs/ is a complete program: a test runs each as a fresh module,
with SECRET_KEY set to a strong key and an empty working directory. A block that
prints states its output in ``# >`` comment lines, which must match exactly. The key examples
(found by their ``title="..."``) are then driven with Starlette's TestClient to check what
the prose around them claims. All blocks are also type-checked together with mypy (strict,
the project's mypy.ini), and the ```sh blocks' sessionkit commands must parse.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import importlib.util
import io
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import textwrap
import tomllib
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import sessionkit
from sessionkit import (
    CSRFSettings,
    SessionCodec,
    SessionConfigError,
    SessionLockedError,
    SessionMiddleware,
    SessionSettings,
)
from sessionkit.cli import build_parser, main
from tests.conftest import KEY

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<lang>[\w-]*)(?P<attrs>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$",
    flags=re.MULTILINE | re.DOTALL,
)
#: Fence languages the pages may use; python blocks run, the others are checked or read.
LANGUAGES = {"python", "sh", "text", "ini", "http", "json"}
CROSS_SITE = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
SAME_ORIGIN = {"sec-fetch-site": "same-origin", "origin": "http://testserver"}


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str
    line: int
    lang: str
    title: str | None
    source: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}" + (f" ({self.title})" if self.title else "")


@functools.cache
def all_blocks() -> tuple[Block, ...]:
    found = []
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text()
        for match in FENCE.finditer(text):
            title = re.search(r'title="([^"]*)"', match["attrs"])
            found.append(
                Block(
                    page=path.relative_to(DOCS).as_posix(),
                    line=text.count("\n", 0, match.start()) + 1,
                    lang=match["lang"],
                    title=title[1] if title else None,
                    source=textwrap.dedent(match["body"]),
                )
            )
    return tuple(found)


def blocks(lang: str) -> list[Block]:
    return [block for block in all_blocks() if block.lang == lang]


def example(page: str, title: str) -> Block:
    """The python block titled ``title`` on ``page``."""
    found = [b for b in blocks("python") if b.page == page and b.title == title]
    assert len(found) == 1, f"{page} must have one python block titled {title!r}"
    return found[0]


def expected_output(source: str) -> list[str]:
    """The ``# >`` lines of a block: what it prints (written so that ruff format keeps them)."""
    lines = (line.strip() for line in source.splitlines())
    return [line[4:] if line.startswith("# > ") else "" for line in lines if line.startswith("# >")]


def run(block: Block) -> dict[str, Any]:
    """Execute ``block`` as a fresh module; check its printed output; its globals."""
    module = types.ModuleType(f"docs_example_{abs(hash(str(block)))}")
    sys.modules[module.__name__] = module  # as for an imported file: pydantic looks it up
    namespace = module.__dict__
    printed = io.StringIO()
    environment = dict(os.environ)
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(block.source, str(block), "exec"), namespace)  # noqa: S102
    finally:  # a block may set variables to show how settings read them
        os.environ.clear()
        os.environ.update(environment)
    assert [line.rstrip() for line in printed.getvalue().splitlines()] == expected_output(
        block.source
    ), f"{block} printed something other than its # > lines"
    return namespace


def app_of(page: str, title: str) -> Any:
    return run(example(page, title))["app"]


def session_layer(app: Any) -> SessionMiddleware:
    """The SessionMiddleware inside a built app (after TestClient has started it)."""
    layer = app.middleware_stack
    while not isinstance(layer, SessionMiddleware):
        layer = layer.app
    return layer


def cookie_data(set_cookie: str) -> dict[str, Any]:
    """The data of a sessionkit cookie issued with KEY, from its Set-Cookie header."""
    value = set_cookie.split(";", 1)[0].split("=", 1)[1]
    decoded = SessionCodec([KEY]).decode(value)
    assert decoded is not None
    return decoded.data


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Examples read SECRET_KEY from the environment, as the pages tell readers to set it."""
    monkeypatch.setenv("SECRET_KEY", KEY)


# --- every block ---------------------------------------------------------------------------


def test_pages_use_only_known_fence_languages() -> None:
    """Every fence is collected and names a known language: no example escapes the checks."""
    assert [str(b) for b in all_blocks() if b.lang not in LANGUAGES] == []
    fences = sum(
        len(re.findall(r"^[ ]*```", path.read_text(), flags=re.MULTILINE))
        for path in DOCS.rglob("*.md")
    )
    assert fences == 2 * len(all_blocks())
    assert len(blocks("python")) >= 30


@pytest.mark.parametrize("block", blocks("python"), ids=str)
def test_python_block_runs_and_prints_what_it_says(block: Block) -> None:
    """Each python block runs on its own, prints its # > lines, and any app it builds starts."""
    app = run(block).get("app")
    if isinstance(app, Starlette):  # FastAPI too: the middleware stack is built at startup
        with TestClient(app):
            pass


def test_python_blocks_type_check(tmp_path: Path) -> None:
    """All python blocks pass mypy strict with the project's mypy.ini."""
    from mypy import api

    files = {}
    for index, block in enumerate(blocks("python")):
        path = tmp_path / f"docs_block_{index:03d}.py"
        path.write_text(block.source)
        files[path.name] = block
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "mypy.ini"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            *(str(tmp_path / name) for name in files),
        ]
    )

    def where(match: re.Match[str]) -> str:
        block = files[match[1]]
        return f"{block.page}:{block.line + int(match[2])}"

    report = re.sub(r"(docs_block_\d+\.py):(\d+)", where, stdout + stderr)
    assert status == 0, report


def _sessionkit_commands() -> list[tuple[str, list[str]]]:
    found = []
    for block in blocks("sh"):
        for match in re.finditer(
            r"(?:python -m sessionkit|^\s*sessionkit)((?: +[^\s|;&)<>]+)*)", block.source, re.M
        ):
            found.append((f"{block}: {match[0].strip()}", shlex.split(match[1])))
    return found


@pytest.mark.parametrize(("where", "args"), _sessionkit_commands(), ids=lambda v: str(v))
def test_shell_commands_exist(where: str, args: list[str]) -> None:
    """Every sessionkit command shown in a shell block names a real command and real flags."""
    exits = []
    try:
        build_parser().parse_args(args)
    except SystemExit as exc:  # --help exits 0; an unknown command or flag exits 2
        exits.append(exc.code)
    assert exits in ([], [0]), where


def test_installed_extras_exist() -> None:
    """Every sessionkit[extra] the pages install is an extra of the project."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    named = {
        extra
        for block in blocks("sh")
        for group in re.findall(r"sessionkit\[([\w,-]+)\]", block.source)
        for extra in group.split(",")
    }
    assert named, "the pages install no extra at all"
    assert named <= set(extras)


@pytest.mark.parametrize(
    "block", [b for b in blocks("text") if (b.title or "").startswith("$ ")], ids=str
)
def test_command_output_is_what_the_page_shows(
    block: Block, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A text block titled with a command shows exactly what that command prints."""
    words = shlex.split(block.title.removeprefix("$ ") if block.title else "")
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        monkeypatch.setenv(name, value)
    assert words[:3] == ["python", "-m", "sessionkit"], block
    main(words[3:], prog="python -m sessionkit")
    captured = capsys.readouterr()
    assert captured.out + captured.err == block.source, block


def test_site_builds_strict(tmp_path: Path) -> None:
    """mkdocs build --strict succeeds: no broken link, no unresolved API reference."""
    if not all(
        importlib.util.find_spec(name) for name in ("mkdocs", "material", "mkdocstrings_handlers")
    ):
        pytest.skip("the docs tools (mkdocs-material, mkdocstrings[python]) are not installed")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


# --- Getting started -----------------------------------------------------------------------


@pytest.mark.parametrize("title", ["app.py", "main.py"])
def test_first_apps_count_visits(title: str) -> None:
    """The Starlette and FastAPI first examples count visits per browser."""
    client = TestClient(app_of("getting-started.md", title))
    assert [client.get("/").json() for _ in range(3)] == [{"visits": n} for n in (1, 2, 3)]
    assert TestClient(client.app).get("/").json() == {"visits": 1}


def test_todo_example_sends_each_browser_only_unseen_todos() -> None:
    """The todo example: unseen todos once each, no cookie when nothing changed, 201 on POST."""
    client = TestClient(app_of("getting-started.md", "todos.py"))
    first = client.get("/unseen-todos")
    assert [todo["id"] for todo in first.json()] == [1, 2, 3]
    assert cookie_data(first.headers["set-cookie"]) == {"last_todo_id": 3}
    second = client.get("/unseen-todos")
    assert second.json() == []
    assert "set-cookie" not in second.headers
    created = client.post("/todos", json={"content": "Water the plants"})
    assert (created.status_code, created.json()) == (201, {"id": 4, "content": "Water the plants"})
    assert client.get("/unseen-todos").json() == [created.json()]
    assert len(TestClient(client.app).get("/unseen-todos").json()) == 4
    assert client.post("/todos", content=b"{").status_code == 422


def test_todo_example_refuses_cross_site_posts() -> None:
    """The todo example's CSRFMiddleware answers 403 to another site's POST, before the app."""
    client = TestClient(app_of("getting-started.md", "todos.py"))
    rejected = client.post("/todos", json={"content": "spam"}, headers=CROSS_SITE)
    assert rejected.status_code == 403
    accepted = client.post("/todos", json={"content": "mine"}, headers=SAME_ORIGIN)
    assert accepted.json()["id"] == 4


# --- Configuration -------------------------------------------------------------------------


def table(page: str, section: str) -> dict[str, list[str]]:
    """The rows of the table under ``## section`` of ``page``, by their first cell."""
    text = (DOCS / page).read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    rows = {}
    for line in text[start : end if end != -1 else None].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def shown_default(field: Any) -> str:
    """How the tables spell a field's default."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    return "`" + repr(value).replace("'", '"') + "`"


@pytest.mark.parametrize(
    ("model", "section"),
    [(SessionSettings, "Every setting"), (CSRFSettings, "CSRF settings")],
)
def test_settings_tables_match_the_models(model: Any, section: str) -> None:
    """The settings tables list every field, with its real environment variable and default."""
    rows = table("configuration.md", section)
    assert list(rows) == list(model.model_fields)
    for name, field in model.model_fields.items():
        variable, default, *_ = rows[name]
        assert variable == f"`{field.validation_alias}`", name
        assert default == shown_default(field), name


# --- Lifetimes -----------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_lifetimes_example_slides_then_ends() -> None:
    """The lifetimes example: re-issued after a minute, idle 30 minutes ends it, 8 hours too."""
    client = TestClient(app_of("lifetimes.md", "lifetimes.py"))
    clock = Clock()
    client.get("/me")  # builds the middleware stack
    session_layer(client.app).codec.clock = clock
    client.post("/login")
    clock.now += 59
    assert "set-cookie" not in client.get("/me").headers
    clock.now += 2
    refreshed = client.get("/me")
    assert "Max-Age=1800;" in refreshed.headers["set-cookie"]
    for _ in range(8 * 60 // 20 - 1):  # a request every 20 minutes keeps it alive...
        clock.now += 20 * 60
        assert client.get("/me").json() == {"user_id": 42}
    clock.now += 20 * 60  # ...until 8 hours after login
    assert client.get("/me").json() == {}
    client.post("/login")
    clock.now += 30 * 60 + 1  # idle for longer than max_age
    assert client.get("/me").json() == {}


# --- WebSockets ----------------------------------------------------------------------------


def next_block(block: Block) -> Block:
    """The block that follows ``block`` on its page."""
    later = [b for b in all_blocks() if b.page == block.page and b.line > block.line]
    return later[0]


def accept_headers(websocket: Any) -> dict[str, str]:
    raw: list[tuple[bytes, bytes]] = websocket.extra_headers or []
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in raw}


def test_websocket_example_sends_changes_in_the_handshake_then_locks() -> None:
    """Changes before accept travel as Set-Cookie in the handshake; later ones raise."""
    block = example("websockets.md", "ws.py")
    client = TestClient(run(block)["app"])
    with client.websocket_connect("/counter") as websocket:
        assert websocket.receive_json() == {"connections": 1}
        assert websocket.receive_text() == next_block(block).source.strip()
        set_cookie = accept_headers(websocket)["set-cookie"]
    assert cookie_data(set_cookie) == {"connections": 1}
    cookie = {"cookie": set_cookie.split(";", 1)[0]}
    with client.websocket_connect("/counter", headers=cookie) as websocket:
        assert websocket.receive_json() == {"connections": 2}
    assert issubclass(SessionLockedError, RuntimeError)


def test_websocket_origin_example_refuses_other_origins() -> None:
    """The Origin check refuses another site's handshake and accepts the app's own."""
    client = TestClient(app_of("websockets.md", "ws_origin.py"))
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/notifications", headers={"origin": "https://evil.example"}),
    ):
        pass
    assert refused.value.code == 1008
    for headers in ({"origin": "https://app.example.com"}, {}):
        with client.websocket_connect("/notifications", headers=headers) as websocket:
            assert websocket.receive_json() == {"user_id": None}


def test_fastapi_websocket_dependency_reads_the_session() -> None:
    """KEY.depends() resolves in a FastAPI WebSocket route."""
    client = TestClient(app_of("websockets.md", "fastapi_ws.py"))
    with client.websocket_connect("/feed") as websocket:
        assert websocket.receive_json() == {"language": "en"}


# --- Command line --------------------------------------------------------------------------


def test_decode_example_cookie_decodes_as_shown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page's example cookie is real: decode prints the JSON and the signing time shown."""
    command = next(
        shlex.split(line)
        for block in blocks("sh")
        if block.page == "cli.md"
        for line in block.source.splitlines()
        if line.startswith("python -m sessionkit decode '")
    )
    shown = next(b for b in blocks("text") if b.page == "cli.md" and "valid: signed" in b.source)
    json_part, _, status = shown.source.rpartition("}\n")
    monkeypatch.setenv("SESSION_MAX_AGE", "none")  # the example is older than 14 days
    assert main(command[3:]) == 0
    captured = capsys.readouterr()
    assert captured.out == json_part + "}\n"
    assert captured.err.startswith(status.split(" (", 1)[0] + " (")


# --- Home and Using the session ------------------------------------------------------------


def test_home_example_remembers_the_name() -> None:
    """The home page's example greets by the name given once, from then on."""
    client = TestClient(app_of("index.md", "hello.py"))
    assert client.get("/").text == "Hello, stranger!"
    assert client.get("/?name=Ada").text == "Hello, Ada!"
    assert client.get("/").text == "Hello, Ada!"


def test_login_example_logs_in_and_out() -> None:
    """get_session: login stores the id, me reads it, logout expires the cookie."""
    client = TestClient(app_of("sessions.md", "login.py"))
    assert client.post("/login?user_id=7").json() == {"logged_in": 7}
    assert client.get("/me").json() == {"user_id": 7}
    response = client.post("/logout")
    assert "expires=Thu, 01 Jan 1970" in response.headers["set-cookie"]
    assert client.get("/me").json() == {"user_id": None}


# --- Typed session data --------------------------------------------------------------------


def test_cart_example_saves_in_place_changes_as_plain_json() -> None:
    """The cart example: in-place appends persist, the session holds JSON, delete empties."""
    client = TestClient(app_of("typed-data.md", "cart.py"))
    assert client.post("/cart/3").json() == {"cart": [3], "visits": 1}
    response = client.post("/cart/5")
    assert response.json() == {"cart": [3, 5], "visits": 2}
    assert cookie_data(response.headers["set-cookie"]) == {"cart": {"items": [3, 5]}, "visits": 2}
    assert client.delete("/cart").json() == {"cart": []}
    assert client.post("/cart/1").json() == {"cart": [1], "visits": 3}


def test_drift_example_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Old-shaped data gives the default and a warning naming the key, not the data."""
    with caplog.at_level(logging.WARNING, logger="sessionkit"):
        run(example("typed-data.md", "drift.py"))
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert "'cart' holds data that no longer validates as Cart" in messages[0]


def test_fastapi_cart_example_uses_dependencies() -> None:
    """The FastAPI example: the injected cart's changes persist; set() counts visits."""
    client = TestClient(app_of("typed-data.md", "fastapi_cart.py"))
    assert client.post("/cart/3").json() == {"items": [3]}
    assert client.post("/cart/4").json() == {"items": [3, 4]}
    assert [client.get("/visits").json() for _ in range(2)] == [1, 2]


# --- Security ------------------------------------------------------------------------------


def test_csrf_example_decides_as_the_page_says() -> None:
    """Same-origin and trusted origins pass, cross-site is 403, exempt webhooks pass."""
    client = TestClient(app_of("security.md", "csrf.py"))
    profile = {"display_name": "Ada"}
    assert client.post("/profile", json=profile, headers=SAME_ORIGIN).status_code == 200
    assert client.post("/profile", json=profile, headers=CROSS_SITE).status_code == 403
    admin = {"sec-fetch-site": "same-site", "origin": "https://admin.example.com"}
    assert client.post("/profile", json=profile, headers=admin).status_code == 200
    sibling = {"sec-fetch-site": "same-site", "origin": "https://blog.example.com"}
    assert client.post("/profile", json=profile, headers=sibling).status_code == 403
    old_browser = {"origin": "https://evil.example"}
    assert client.post("/profile", json=profile, headers=old_browser).status_code == 403
    assert client.post("/profile", json=profile).status_code == 200  # no browser headers
    assert client.post("/webhooks/payments", headers=CROSS_SITE).json() == {"received": True}


def test_on_reject_example_answers_in_json() -> None:
    """on_reject builds the 403 response, with the reason."""
    client = TestClient(app_of("security.md", "on_reject.py"))
    response = client.post("/", headers=CROSS_SITE)
    assert response.status_code == 403
    assert response.json() == {
        "error": "cross-site request refused",
        "reason": "cross-origin request detected from Sec-Fetch-Site: cross-site",
    }


def test_tokens_example_needs_the_form_token() -> None:
    """With use_tokens, the logout form passes with its token and is refused without it."""
    client = TestClient(app_of("security.md", "tokens.py"), follow_redirects=False)
    page = client.get("/").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf_token": "guess"}).status_code == 403
    response = client.post("/logout", data={"csrf_token": token[1]})
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert client.post("/logout", headers={"X-CSRF-Token": token[1]}).status_code == 403


def test_production_example_sets_a_host_prefixed_secure_cookie() -> None:
    """The __Host- example issues a Secure cookie under that name."""
    client = TestClient(app_of("security.md", "production.py"), base_url="https://testserver")
    set_cookie = client.get("/").headers["set-cookie"]
    assert set_cookie.startswith("__Host-session=")
    assert set_cookie.endswith("; path=/; Max-Age=1209600; httponly; samesite=lax; secure")


# --- Migration -----------------------------------------------------------------------------


def test_starlette_import_switch_keeps_the_set_cookie_header() -> None:
    """Before and after the import switch, Set-Cookie differs only in the cookie's value."""

    async def write(request: Request) -> JSONResponse:
        request.session["n"] = 1
        return JSONResponse({})

    headers = []
    for title in ("before.py", "after.py"):
        app = app_of("migration/starlette.md", title)
        app.router.routes.append(Route("/", write))
        response = TestClient(app, base_url="https://testserver").get("/")
        headers.append(response.headers["set-cookie"].split(";", 1)[1])
    assert headers[0] == headers[1] == " path=/; Max-Age=1209600; httponly; samesite=lax; secure"


def test_starlette_switch_example_reads_a_starlette_cookie() -> None:
    """A cookie from Starlette's middleware is read by sessionkit and re-issued in its format."""
    namespace = run(example("migration/starlette.md", "switch.py"))
    reissued = namespace["response"].headers["set-cookie"]
    assert cookie_data(reissued) == {"user_id": 42}
    assert namespace["before"].user_middleware[0].cls is StarletteSessionMiddleware


def test_bocadillo_sessions_mapping_configures_sessionkit() -> None:
    """A Bocadillo SESSIONS mapping with a starlette Secret builds working settings."""
    app = app_of("migration/bocadillo.md", "settings.py")
    with TestClient(app, base_url="https://testserver"):
        assert session_layer(app).settings.https_only is True
        assert session_layer(app).settings.secret_key.get_secret_value() == KEY


def test_bocadillo_typo_is_named_with_the_closest_setting() -> None:
    """The typo the Bocadillo page mentions is reported with the setting it meant."""
    with pytest.raises(SessionConfigError, match="'http_only': did you mean 'https_only'"):
        SessionSettings.from_config({"http_only": True})


def test_flask_port_example_restores_the_datetime() -> None:
    """The Flask port: 401 before login, a datetime read back after, nothing after logout."""
    client = TestClient(app_of("migration/flask.md", "flask_port.py"))
    assert client.get("/me").status_code == 401
    client.post("/login")
    body = client.get("/me").json()
    assert body["user_id"] == 42
    assert body["since"].endswith("+00:00")
    client.post("/logout")
    assert client.get("/me").status_code == 401


def test_flask_cookies_are_not_read() -> None:
    """As the Flask page warns, a cookie signed the way Flask signs is no session."""
    from itsdangerous import URLSafeTimedSerializer

    flask_cookie = URLSafeTimedSerializer(KEY, salt="cookie-session").dumps({"user_id": 42})
    assert SessionCodec([KEY]).decode(flask_cookie) is None


# --- Configuration and reference -----------------------------------------------------------


def test_three_ways_configure_the_same_settings() -> None:
    """The three ways of configuring the middleware give equal settings."""
    namespace = run(example("configuration.md", "three_ways.py"))
    layers = []
    for name in ("first", "second", "third"):
        with TestClient(namespace[name]):
            layers.append(session_layer(namespace[name]).settings)
    assert layers[0] == layers[1] == layers[2]
    assert layers[0].https_only is True


def test_reference_documents_the_whole_public_api() -> None:
    """The API reference page renders every name in sessionkit.__all__."""
    rendered = re.findall(r"^::: sessionkit\.(\w+)$", (DOCS / "reference.md").read_text(), re.M)
    assert sorted(rendered) == sorted(sessionkit.__all__)


def test_reference_exception_tree_is_the_real_one() -> None:
    """Each exception in the reference's tree has the bases the tree gives it."""
    tree = next(
        b for b in blocks("text") if b.page == "reference.md" and "SessionError" in b.source
    )
    for name, base in re.findall(r"(\w+) \((?:also|a) (\w+)\)", tree.source):
        cls = getattr(sessionkit, name)
        assert issubclass(cls, getattr(builtins, base)), name
        if name != "SessionConfigWarning":
            assert issubclass(cls, sessionkit.SessionError), name


def test_raw_asgi_example_counts_hits() -> None:
    """SessionMiddleware wraps a plain ASGI app; dict(session) serialises the loaded data."""
    client = TestClient(app_of("sessions.md", "raw_asgi.py"))
    assert [client.get("/").json() for _ in range(2)] == [{"hits": 1}, {"hits": 2}]


def test_json_dumps_of_an_unused_session_is_empty_as_the_page_warns() -> None:
    """The limitation the raw ASGI section describes: json.dumps sees {} before any use."""
    session = sessionkit.Session.lazy(lambda: {"hits": 1})
    assert json.dumps(session) == "{}"
    session.load()
    assert json.dumps(session) == '{"hits": 1}'
