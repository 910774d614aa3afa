"""The demo application over HTTP: unseen-todos semantics, adding todos, the page."""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

import pytest
from starlette.testclient import TestClient

from sessionkit import SessionCodec, SessionConfigError, SessionSettings
from sessionkit._demo_account import MAX_NAME
from sessionkit.demo import EXAMPLE_TODOS, MAX_CONTENT, TodoList, create_app
from tests.conftest import KEY

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.applications import Starlette

    from tests.redis_server import RedisServer

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


# --- signing in, and the devices of a server-side store ------------------------------------


def sign_in(client: TestClient, name: str) -> None:
    assert client.post("/sign-in", json={"name": name}).status_code == 204


def devices_on(page: str) -> list[tuple[str, bool]]:
    """The page's device list: each device's handle, and whether it is marked as this one."""
    found = re.findall(r'<li class="device( current)?" data-handle="([^"]+)">(.*?)</li>', page)
    for current, _, row in found:
        assert ("this device" in row) == bool(current)
    return [(handle, bool(current)) for current, handle, _ in found]


@pytest.fixture(params=["memory", "redis"])
def server_app(request: pytest.FixtureRequest) -> Starlette:
    """The demo on a server-side store: the memory store, or a real redis-server."""
    if request.param == "memory":
        return create_app(SessionSettings(secret_key=KEY, store="memory"))
    redis_db: RedisServer = request.getfixturevalue("redis_db")
    return create_app(SessionSettings(secret_key=KEY, store="redis", redis_url=redis_db.url))


def test_sign_in_puts_the_name_in_the_session(client: TestClient) -> None:
    """POST /sign-in {"name"} puts the trimmed name under user_id; the page says who."""
    client.get("/unseen-todos")
    sign_in(client, "  Zoë <3  ")
    assert client.get("/session").json() == {"last_todo_id": 3, "user_id": "Zoë <3"}
    page = client.get("/").text
    assert 'Signed in as <span id="user">Zoë &lt;3</span>' in page
    assert 'id="sign-in-form"' not in page


def test_the_sign_in_form_says_there_is_no_password(client: TestClient) -> None:
    """A browser nobody signed in on gets the sign-in form, which says there is no password."""
    page = client.get("/").text
    assert 'id="sign-in-form"' in page
    assert "No password: this is a demo" in page


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{", 400, "not valid JSON"),
        (b'{"name": "   "}', 422, "at least 1 character"),
        (b'{"name": "' + b"x" * (MAX_NAME + 1) + b'"}', 422, f"at most {MAX_NAME}"),
        (b'{"name": "a", "password": "b"}', 422, "password: Extra inputs"),
    ],
)
def test_a_bad_sign_in_is_refused(
    client: TestClient, body: bytes, status: int, message: str
) -> None:
    """A sign-in without a usable name is a 4xx saying why, and signs nobody in."""
    response = client.post("/sign-in", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert message in response.json()["detail"]
    assert "user_id" not in client.get("/session").json()


def test_sign_in_must_be_json(client: TestClient) -> None:
    """A form-encoded sign-in is refused with 415."""
    assert client.post("/sign-in", data={"name": "x"}).status_code == 415


def test_sign_out_keeps_the_todo_progress(client: TestClient) -> None:
    """POST /sign-out removes the user from the session and keeps the todos seen."""
    client.get("/unseen-todos")
    sign_in(client, "ann")
    assert client.post("/sign-out").status_code == 204
    assert client.get("/session").json() == {"last_todo_id": 3}
    assert 'id="sign-in-form"' in client.get("/").text


def test_the_cookie_store_says_why_it_lists_no_devices(client: TestClient) -> None:
    """On the cookie store the page explains devices need a server-side store, and how."""
    for signed_in in (False, True):
        page = client.get("/").text
        assert ('id="user"' in page) == signed_in
        assert "need a server-side store" in page
        assert "SESSION_STORE=memory python -m sessionkit demo" in page
        assert devices_on(page) == []
        sign_in(client, "ann")
    assert 'id="sign-out-everywhere"' not in page
    assert "Kept in the signed cookie <code>session</code>" in page


def test_sign_out_everywhere_on_the_cookie_store_is_a_409(client: TestClient) -> None:
    """Sign out everywhere on the cookie store is refused (409, saying why), never a 500."""
    sign_in(client, "ann")
    response = client.post("/sign-out-everywhere")
    assert response.status_code == 409
    assert "server-side store" in response.json()["detail"]


def test_the_page_lists_the_users_devices_marking_this_one(server_app: Starlette) -> None:
    """On a server-side store each device's page lists both sessions, marking its own."""
    with TestClient(server_app) as phone, TestClient(server_app) as laptop:
        sign_in(phone, "ann")
        sign_in(laptop, "ann")
        on_phone, on_laptop = devices_on(phone.get("/").text), devices_on(laptop.get("/").text)
        assert len(on_phone) == 2
        assert {handle for handle, _ in on_phone} == {handle for handle, _ in on_laptop}
        assert on_phone == [(handle, not current) for handle, current in on_laptop]
        page = phone.get("/").text
        assert "Kept on the server" in page
        assert 'id="sign-out-everywhere"' in page
        assert "need a server-side store" not in page


def test_sign_out_this_device_leaves_the_other(server_app: Starlette) -> None:
    """Signing one device out removes it from the list; the other stays signed in."""
    with TestClient(server_app) as phone, TestClient(server_app) as laptop:
        sign_in(phone, "ann")
        sign_in(laptop, "ann")
        assert phone.post("/sign-out").status_code == 204
        assert "user_id" not in phone.get("/session").json()
        assert [current for _, current in devices_on(laptop.get("/").text)] == [True]


def test_sign_out_everywhere_signs_the_other_device_out(server_app: Starlette) -> None:
    """Sign out everywhere ends every session of the user: the other device's next request
    finds it signed out; another user's session is untouched."""
    with TestClient(server_app) as phone, TestClient(server_app) as laptop:
        sign_in(phone, "ann")
        sign_in(laptop, "ann")
        with TestClient(server_app) as other:
            sign_in(other, "bob")
            response = laptop.post("/sign-out-everywhere")
            assert response.status_code == 200
            assert response.json() == {"signed_out": 2}
            assert "01 jan 1970" in response.headers["set-cookie"].lower()  # its dead id dropped
            assert phone.get("/session").json() == {}
            assert 'id="sign-in-form"' in phone.get("/").text
            assert laptop.get("/session").json() == {}
            assert other.get("/session").json() == {"user_id": "bob"}


def test_sign_out_everywhere_needs_someone_signed_in(server_app: Starlette) -> None:
    """Sign out everywhere with nobody signed in is a 409 saying to sign in."""
    with TestClient(server_app) as client:
        response = client.post("/sign-out-everywhere")
        assert response.status_code == 409
        assert "sign in first" in response.json()["detail"]


def test_without_a_user_key_the_page_says_why_it_lists_no_devices() -> None:
    """With SESSION_USER_KEY none the page names it instead of listing devices."""
    app = create_app(SessionSettings(secret_key=KEY, store="memory", user_key=None))
    with TestClient(app) as client:
        sign_in(client, "ann")
        page = client.get("/").text
        assert "SESSION_USER_KEY is none" in page
        assert devices_on(page) == []
        assert client.post("/sign-out-everywhere").status_code == 409


def test_todos_work_on_a_server_side_store(server_app: Starlette) -> None:
    """The todo features work unchanged on a server-side store."""
    with TestClient(server_app) as client:
        assert client.get("/unseen-todos").json() == EXAMPLES
        added = add(client, "Kept on the server")
        assert client.get("/unseen-todos").json() == [added]


def test_cross_site_sign_in_and_sign_out_are_refused(client: TestClient) -> None:
    """CSRF protection covers signing in and out: a cross-site post gets 403."""
    evil = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    assert client.post("/sign-in", json={"name": "x"}, headers=evil).status_code == 403
    for path in ("/sign-out", "/sign-out-everywhere"):
        assert client.post(path, headers=evil).status_code == 403
    assert client.get("/session").json() == {}
