"""The demo application over HTTP: unseen-todos semantics, adding todos, the page."""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

import pytest
from starlette.testclient import TestClient

from sessionkit import SessionCodec, SessionConfigError, SessionSettings
from sessionkit.demo import EXAMPLE_TODOS, MAX_CONTENT, TodoList, create_app
from tests.conftest import KEY

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.applications import Starlette

EXAMPLES = [{"id": i, "content": text} for i, text in enumerate(EXAMPLE_TODOS, start=1)]


@pytest.fixture
def app() -> Starlette:
    return create_app(SessionSettings(secret_key=KEY))


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def add(client: TestClient, content: str) -> dict[str, Any]:
    response = client.post("/todos", json={"content": content})
    assert response.status_code == 201
    todo: dict[str, Any] = response.json()
    return todo


def test_first_call_returns_the_example_todos(client: TestClient) -> None:
    """A new client is sent every example todo, as {"id", "content"}, ids from 1."""
    assert client.get("/unseen-todos").json() == EXAMPLES


def test_second_call_returns_nothing(client: TestClient) -> None:
    """Todos already sent to this client are not sent again."""
    client.get("/unseen-todos")
    assert client.get("/unseen-todos").json() == []


def test_only_todos_added_since_are_returned(client: TestClient) -> None:
    """After todos are added, the client gets exactly those, in order."""
    client.get("/unseen-todos")
    first, second = add(client, "Buy milk"), add(client, "Walk the dog")
    assert client.get("/unseen-todos").json() == [first, second]
    assert [first["id"], second["id"]] == [4, 5]
    assert client.get("/unseen-todos").json() == []


def test_each_client_has_its_own_progress(app: Starlette, client: TestClient) -> None:
    """A second browser still gets every todo, including one the first added."""
    client.get("/unseen-todos")
    added = add(client, "Shared")
    with TestClient(app) as other:
        assert other.get("/unseen-todos").json() == [*EXAMPLES, added]
    assert client.get("/unseen-todos").json() == [added]


def test_adding_does_not_mark_other_todos_seen(app: Starlette, client: TestClient) -> None:
    """A todo someone else added before mine is still sent to me after I add mine."""
    client.get("/unseen-todos")
    with TestClient(app) as other:
        theirs = add(other, "Theirs")
    mine = add(client, "Mine")
    assert client.get("/unseen-todos").json() == [theirs, mine]


def test_session_holds_the_last_id_sent(client: TestClient) -> None:
    """The session stores only the id of the last todo sent, under "last_todo_id"."""
    assert client.get("/session").json() == {}
    client.get("/unseen-todos")
    assert client.get("/session").json() == {"last_todo_id": 3}


def test_todo_list_ids_are_not_positions() -> None:
    """Ids start at 1 and keep counting; after(id) slices by id, not by position."""
    todos = TodoList(["a", "b"])
    todos.add("c")
    assert [t.id for t in todos.after(-1)] == [1, 2, 3]
    assert [t.content for t in todos.after(1)] == ["b", "c"]
    assert todos.after(3) == []
    assert len(todos) == 3


def test_post_creates_a_todo(client: TestClient) -> None:
    """POST /todos answers 201 with the new todo, its content trimmed."""
    response = client.post("/todos", json={"content": "  Buy milk  "})
    assert response.status_code == 201
    assert response.json() == {"id": 4, "content": "Buy milk"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[]", 422, "should be an object"),
        (b"{}", 422, "content: Field required"),
        (b'{"content": ""}', 422, "at least 1 character"),
        (b'{"content": "   "}', 422, "at least 1 character"),
        (b'{"content": 42}', 422, "valid string"),
        (b'{"content": null}', 422, "valid string"),
        (b'{"content": "x", "done": true}', 422, "done: Extra inputs"),
        (b'{"content": "' + b"x" * (MAX_CONTENT + 1) + b'"}', 422, f"at most {MAX_CONTENT}"),
    ],
)
def test_bad_todo_is_rejected(client: TestClient, body: bytes, status: int, message: str) -> None:
    """Bad JSON is a 400 and a bad todo a 422, each saying what is wrong; nothing is added."""
    response = client.post("/todos", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert message in response.json()["detail"]
    assert len(client.get("/unseen-todos").json()) == len(EXAMPLES)


def test_non_json_post_is_415(client: TestClient) -> None:
    """A form-encoded post is refused with 415, saying to send JSON."""
    response = client.post("/todos", data={"content": "x"})
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_page_lists_unseen_todos_and_the_session(client: TestClient) -> None:
    """GET / is HTML listing the unseen todos and showing the session's content."""
    response = client.get("/")
    assert response.headers["content-type"].startswith("text/html")
    for todo in EXAMPLES:
        assert f'data-id="{todo["id"]}"' in response.text
        assert str(todo["content"]) in response.text
    assert "&quot;last_todo_id&quot;: 3" in response.text
    assert client.get("/unseen-todos").json() == []  # the page marked them seen


def test_page_on_reload_shows_only_new_todos(client: TestClient) -> None:
    """Reloading the page lists only todos added since the last visit."""
    client.get("/")
    assert "data-id=" not in client.get("/").text
    add(client, "Fresh one")
    page = client.get("/").text
    assert re.findall(r'data-id="(\d+)"', page) == ["4"]
    assert "Fresh one" in page


def test_page_escapes_todo_content(client: TestClient) -> None:
    """Todo content is HTML-escaped in the page, never injected as markup."""
    add(client, "<script>alert(1)</script>")
    page = client.get("/").text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_page_allows_only_its_own_inline_code(client: TestClient) -> None:
    """The page's CSP allows only its inline style and script, by a per-response nonce."""
    response = client.get("/")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"])
    assert nonce is not None
    assert f'<script nonce="{nonce[1]}">' in response.text
    assert f'<style nonce="{nonce[1]}">' in response.text
    assert nonce[1] not in client.get("/").text


def test_clearing_the_session_shows_every_todo_again(client: TestClient) -> None:
    """DELETE /session forgets progress: every todo is unseen again."""
    client.get("/unseen-todos")
    assert client.delete("/session").status_code == 204
    assert client.get("/unseen-todos").json() == EXAMPLES


def test_tampered_cookie_gives_a_fresh_session(client: TestClient) -> None:
    """A cookie whose data was changed is ignored: a fresh session, not an error."""
    client.get("/unseen-todos")
    signed = client.cookies["session"]
    forged = base64.urlsafe_b64encode(b'{"last_todo_id":99}').rstrip(b"=").decode()
    client.cookies.clear()
    client.cookies["session"] = forged + "." + signed.split(".", 1)[1]
    response = client.get("/unseen-todos")
    assert response.status_code == 200
    assert response.json() == EXAMPLES


def test_session_cookie_is_signed_with_the_settings_key(client: TestClient) -> None:
    """The demo's cookie decodes with the configured key and holds the last id."""
    client.get("/unseen-todos")
    decoded = SessionCodec([KEY]).decode(client.cookies["session"])
    assert decoded is not None
    assert decoded.data == {"last_todo_id": 3}


def test_apps_do_not_share_todos() -> None:
    """Each app instance has its own todos: nothing leaks between tests or apps."""
    settings = SessionSettings(secret_key=KEY)
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        add(first, "Only in the first")
        assert len(second.get("/unseen-todos").json()) == len(EXAMPLES)


def test_create_app_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without settings, create_app reads SECRET_KEY and SESSION_* from the environment."""
    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.setenv("SESSION_COOKIE", "todo_session")
    with TestClient(create_app()) as client:
        client.get("/unseen-todos")
        assert "todo_session" in client.cookies


def test_create_app_without_a_key_fails_at_startup() -> None:
    """Without SECRET_KEY, create_app raises the configuration error naming it."""
    with pytest.raises(SessionConfigError, match="SECRET_KEY"):
        create_app()


def test_cross_site_post_is_refused(client: TestClient) -> None:
    """CSRF protection: a cross-site browser post gets 403; a same-origin one passes."""
    evil = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    assert client.post("/todos", json={"content": "x"}, headers=evil).status_code == 403
    same = {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}
    assert client.post("/todos", json={"content": "x"}, headers=same).status_code == 201
