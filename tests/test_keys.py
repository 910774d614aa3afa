"""SessionKey: typed entries through real Starlette and FastAPI apps."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket
from typing_extensions import TypedDict

from sessionkit import (
    SessionKey,
    SessionKeyMissingError,
    SessionSettings,
    SessionValueError,
)
from tests.conftest import KEY


class Cart(BaseModel):
    items: list[int] = []


class Profile(TypedDict):
    name: str
    age: int


LAST = SessionKey("last_todo_id", int, default=-1)
CART = SessionKey("cart", Cart, default_factory=Cart)
TAGS = SessionKey("tags", list[str], default_factory=list)
PROFILE = SessionKey("profile", Profile)
STRICT_CART = SessionKey("cart", Cart, on_invalid="raise")


async def show(request: Request) -> JSONResponse:
    return JSONResponse(
        {"last": LAST.get(request), "cart": CART.get(request).items, "tags": TAGS.get(request)}
    )


async def add_item(request: Request) -> JSONResponse:
    cart = CART.get(request)
    cart.items.append(len(cart.items) + 1)
    assert CART.get(request) is cart
    return JSONResponse(cart.items)


async def tag(request: Request) -> JSONResponse:
    TAGS.get(request).append(request.query_params["t"])
    return JSONResponse(TAGS.get(request))


async def set_last(request: Request) -> JSONResponse:
    LAST.set(request, int(request.query_params["n"]))
    return JSONResponse(LAST.get(request))


async def set_wrong(request: Request) -> JSONResponse:
    try:
        LAST.set(request, request.query_params["n"])  # type: ignore[arg-type]
    except SessionValueError as exc:
        return JSONResponse({"error": str(exc), "stored": "last_todo_id" in request.session})
    return JSONResponse({"error": None})


async def write_raw(request: Request) -> JSONResponse:
    request.session.update(await request.json())
    return JSONResponse(dict(request.session))


async def nested_plain(request: Request) -> JSONResponse:
    request.session["box"]["n"] += 1
    return JSONResponse(request.session["box"])


async def delete_cart(request: Request) -> JSONResponse:
    CART.delete(request)
    return JSONResponse(dict(request.session))


async def profile(request: Request) -> JSONResponse:
    try:
        return JSONResponse(PROFILE.get(request))
    except SessionKeyMissingError as exc:
        return JSONResponse({"missing": str(exc)}, status_code=404)


async def strict_cart(request: Request) -> JSONResponse:
    return JSONResponse(STRICT_CART.get(request).items)


async def ws_read(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"last": LAST.get(websocket), "cart": CART.get(websocket).items})
    await websocket.close()


def make_client() -> TestClient:
    settings = SessionSettings(secret_key=KEY)
    routes = [
        Route("/show", show),
        Route("/add", add_item, methods=["POST"]),
        Route("/tag", tag, methods=["POST"]),
        Route("/last", set_last, methods=["POST"]),
        Route("/wrong", set_wrong, methods=["POST"]),
        Route("/raw", write_raw, methods=["POST"]),
        Route("/nested", nested_plain, methods=["POST"]),
        Route("/delete-cart", delete_cart, methods=["POST"]),
        Route("/profile", profile),
        Route("/strict-cart", strict_cart),
        WebSocketRoute("/ws", ws_read),
    ]
    return TestClient(Starlette(routes=routes, middleware=[settings.middleware()]))


def test_defaults_when_absent() -> None:
    """Absent keys give their default (a fresh one from default_factory)."""
    response = make_client().get("/show")
    assert response.json() == {"last": -1, "cart": [], "tags": []}
    assert "set-cookie" not in response.headers


def test_set_round_trips_across_requests() -> None:
    """A value set in one request is read, typed, in the next."""
    client = make_client()
    assert client.post("/last?n=7").json() == 7
    assert client.get("/show").json()["last"] == 7


def test_in_place_model_change_persists() -> None:
    """Appending to a list inside a model persists without an explicit set."""
    client = make_client()
    client.post("/add")
    client.post("/add")
    assert client.get("/show").json()["cart"] == [1, 2]


def test_in_place_generic_container_change_persists() -> None:
    """Appending to a list[str] value persists without an explicit set."""
    client = make_client()
    client.post("/tag?t=a")
    assert client.post("/tag?t=b").json() == ["a", "b"]
    assert client.get("/show").json()["tags"] == ["a", "b"]


def test_session_holds_plain_json_data() -> None:
    """Other code reading request.session sees plain JSON values, not models."""
    client = make_client()
    client.post("/add")
    assert client.post("/raw", json={}).json() == {"cart": {"items": [1]}}


def test_nested_plain_dict_change_persists() -> None:
    """A nested in-place change to a plain session value is persisted by content."""
    client = make_client()
    client.post("/raw", json={"box": {"n": 1}})
    client.post("/nested")
    assert client.post("/nested").json() == {"n": 3}


def test_read_only_use_sends_no_cookie() -> None:
    """Reading typed values (even defaults) sends no Set-Cookie."""
    client = make_client()
    client.post("/add")
    response = client.get("/show")
    assert response.json()["cart"] == [1]
    assert "set-cookie" not in response.headers
    assert response.headers["vary"] == "Cookie"


def test_set_rejects_wrong_value_and_stores_nothing() -> None:
    """set() with a value that does not validate raises naming key and type; nothing stored."""
    body = make_client().post("/wrong?n=abc").json()
    assert "'last_todo_id'" in body["error"]
    assert "int" in body["error"]
    assert body["stored"] is False


def test_delete_removes_entry() -> None:
    """delete() removes the entry, so the next get is the default."""
    client = make_client()
    client.post("/add")
    assert client.post("/delete-cart").json() == {}
    assert client.get("/show").json()["cart"] == []


def test_missing_key_without_default_raises_lookup_error() -> None:
    """A key without default raises SessionKeyMissingError (a LookupError) naming it."""
    response = make_client().get("/profile")
    assert response.status_code == 404
    assert "'profile'" in response.json()["missing"]
    assert issubclass(SessionKeyMissingError, LookupError)


def test_typeddict_round_trip() -> None:
    """TypedDict values validate from the session."""
    client = make_client()
    client.post("/raw", json={"profile": {"name": "Ada", "age": 36}})
    assert client.get("/profile").json() == {"name": "Ada", "age": 36}


def test_drift_yields_default_and_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Stored data that no longer validates gives the default and logs one warning."""
    client = make_client()
    client.post("/raw", json={"cart": {"items": "not a list"}})
    with caplog.at_level(logging.WARNING, logger="sessionkit"):
        response = client.get("/show")
    assert response.status_code == 200
    assert response.json()["cart"] == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'cart'" in warnings[0].getMessage()
    assert "not a list" not in warnings[0].getMessage()


def test_drift_value_replaced_on_next_write() -> None:
    """After drift, an in-place change to the default replaces the bad stored value."""
    client = make_client()
    client.post("/raw", json={"cart": {"items": "bad"}})
    assert client.post("/add").json() == [1]
    assert client.post("/raw", json={}).json()["cart"] == {"items": [1]}


def test_drift_policy_raise() -> None:
    """on_invalid='raise' turns drift into SessionValueError."""
    client = make_client()
    client.post("/raw", json={"cart": {"items": "bad"}})
    with pytest.raises(SessionValueError, match="'cart' holds data that no longer validates"):
        client.get("/strict-cart")


def test_drift_without_default_raises_lookup_error() -> None:
    """Drift on a key without default raises the same LookupError as absence."""
    client = make_client()
    client.post("/raw", json={"profile": {"name": "Ada"}})
    response = client.get("/profile")
    assert response.status_code == 404
    assert "no longer validates" in response.json()["missing"]


def test_websocket_reads_typed_values() -> None:
    """SessionKey.get works on a WebSocket."""
    client = make_client()
    client.post("/last?n=5")
    client.post("/add")
    with client.websocket_connect("/ws") as websocket:
        assert websocket.receive_json() == {"last": 5, "cart": [1]}


def test_default_is_copied_per_request() -> None:
    """A mutable default is never shared between requests."""
    shared = SessionKey("shared", list[int], default=[])

    async def grow(request: Request) -> PlainTextResponse:
        value = shared.get(request)
        value.append(1)
        return PlainTextResponse(str(len(value)))

    settings = SessionSettings(secret_key=KEY)
    app = Starlette(routes=[Route("/", grow)], middleware=[settings.middleware()])
    assert TestClient(app).get("/").text == "1"
    assert TestClient(app).get("/").text == "1"


def test_invalid_default_rejected_at_construction() -> None:
    """A default that does not validate is an error when the key is declared."""
    with pytest.raises(SessionValueError, match="'n': the default does not validate"):
        SessionKey("n", int, default="x")


def test_default_and_factory_are_exclusive() -> None:
    """Giving both default and default_factory is an error."""
    with pytest.raises(ValueError, match="not both"):
        SessionKey("n", list[int], default=[], default_factory=list)


def test_fastapi_dependency_gives_bound_object() -> None:
    """Annotated[Cart, CART.depends()] injects the live object; changes persist."""
    app = FastAPI(middleware=[SessionSettings(secret_key=KEY).middleware()])

    @app.post("/add")
    def add(cart: Annotated[Cart, CART.depends()]) -> list[int]:
        cart.items.append(9)
        return cart.items

    @app.get("/cart")
    def read(cart: Annotated[Cart, CART.depends()]) -> list[int]:
        return cart.items

    client = TestClient(app)
    assert client.post("/add").json() == [9]
    assert client.post("/add").json() == [9, 9]
    response = client.get("/cart")
    assert response.json() == [9, 9]
    assert "set-cookie" not in response.headers


def _one_route_client(endpoint: Any) -> TestClient:
    settings = SessionSettings(secret_key=KEY)
    routes = [Route("/", endpoint, methods=["POST"]), Route("/raw", write_raw, methods=["POST"])]
    return TestClient(Starlette(routes=routes, middleware=[settings.middleware()]))


def test_clear_ends_bindings_so_nothing_comes_back() -> None:
    """A default changed in place, then clear() (a logout): the session stays empty."""

    async def logout(request: Request) -> JSONResponse:
        CART.get(request).items.append(1)
        request.session.clear()
        return JSONResponse({})

    client = _one_route_client(logout)
    client.post("/")
    assert client.post("/raw", json={}).json() == {}


def test_changing_the_object_given_to_set_persists() -> None:
    """set(value) then changing value in place persists, also for types pydantic copies."""

    async def tag(request: Request) -> JSONResponse:
        tags = ["a"]
        TAGS.set(request, tags)
        tags.append("b")
        return JSONResponse({})

    client = _one_route_client(tag)
    client.post("/")
    assert client.post("/raw", json={}).json() == {"tags": ["a", "b"]}


def test_keys_sharing_a_name_each_validate() -> None:
    """A second key with the same name never gets the first key's object unvalidated."""
    as_int = SessionKey("v", int, default=0)
    as_list = SessionKey("v", list[str], default_factory=list)

    async def both(request: Request) -> JSONResponse:
        as_int.set(request, 5)
        return JSONResponse({"list": as_list.get(request)})

    assert _one_route_client(both).post("/").json() == {"list": []}
