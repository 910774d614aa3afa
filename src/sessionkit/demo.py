"""The demo application: a todo list that shows each browser only the todos it has not seen.

The session holds one typed value, the id of the last todo sent to this client
(``LAST_TODO``); every other byte of state lives on the server, in memory, per app instance.
Todo ids start at 1 and never repeat, so they are never confused with list positions.

Routes:

- ``GET /`` an HTML page listing the todos this browser has not seen yet (and marking them
  seen), with a form to add one and a view of what the session holds;
- ``GET /unseen-todos`` the same todos as JSON ``[{"id", "content"}]``, marked seen;
- ``POST /todos`` ``{"content": "..."}`` adds a todo: 201 and the todo, or a 4xx saying why;
- ``GET /session`` the session's content as JSON; ``DELETE /session`` clears it;
- ``POST /sign-in`` ``{"name": "..."}`` signs this browser in as that name (no password: a
  demo), ``POST /sign-out`` signs this device out, and ``POST /sign-out-everywhere`` ends
  every session of the signed-in user (a server-side store only).

With a server-side store (``SESSION_STORE=memory`` or ``redis``) the page lists the signed-in
user's devices, this one marked; with the cookie store it says why it cannot. Run it with
``python -m sessionkit demo``, or ``uvicorn --factory sessionkit.demo:create_app``.
"""

from __future__ import annotations

import bisect
import html
import itertools
import json
import re
import secrets
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sessionkit._demo_account import MAX_NAME, render_sign_in, render_signed_in
from sessionkit.csrf import CSRFMiddleware, CSRFSettings
from sessionkit.keys import SessionKey
from sessionkit.middleware import get_session, get_store
from sessionkit.server_store import ServerStore
from sessionkit.settings import SessionSettings

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pydantic_core import ErrorDetails
    from starlette.requests import Request

__all__ = ["EXAMPLE_TODOS", "LAST_TODO", "Todo", "TodoList", "create_app"]

EXAMPLE_TODOS = (
    "Read the sessionkit quickstart",
    "Rotate SECRET_KEY, keeping the old one in SECRET_KEY_FALLBACKS",
    "Add a todo below, then reload: only new todos show",
)
MAX_CONTENT = 200

#: The id of the last todo sent to this client; -1: none yet.
LAST_TODO = SessionKey("last_todo_id", int, default=-1)


@dataclass(frozen=True, slots=True)
class Todo:
    id: int
    content: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "content": self.content}


class TodoList:
    """The todos of one app instance, in memory, in the order they were added."""

    def __init__(self, contents: Iterable[str] = EXAMPLE_TODOS) -> None:
        self._todos: list[Todo] = []
        self._ids = itertools.count(1)
        for content in contents:
            self.add(content)

    def __len__(self) -> int:
        return len(self._todos)

    def add(self, content: str) -> Todo:
        todo = Todo(next(self._ids), content)
        self._todos.append(todo)
        return todo

    def after(self, last_id: int) -> list[Todo]:
        """The todos with an id greater than ``last_id``: those added after it."""
        return self._todos[bisect.bisect_right(self._todos, last_id, key=lambda t: t.id) :]


class NewTodo(BaseModel):
    """The body of ``POST /todos``."""

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="forbid", str_strip_whitespace=True)

    content: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CONTENT)]


class SignIn(BaseModel):
    """The body of ``POST /sign-in``: the name to sign in as (a demo: no password)."""

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]


class TodoDemo:
    """The demo's endpoints, bound to one :class:`TodoList`."""

    def __init__(self, todos: TodoList, settings: SessionSettings) -> None:
        self.todos = todos
        self.cookie_name: str = settings.session_cookie
        self.store_kind: str = settings.store
        #: the session entry that names the signed-in user
        self.user_key: str = settings.user_key or "user_id"
        #: why this demo cannot list devices, or ``None`` when it can
        self.no_devices: str | None = _why_no_devices(settings)

    def routes(self) -> list[Route]:
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/unseen-todos", self.unseen_todos, methods=["GET"]),
            Route("/todos", self.add_todo, methods=["POST"]),
            Route("/session", self.show_session, methods=["GET"]),
            Route("/session", self.clear_session, methods=["DELETE"]),
            Route("/sign-in", self.sign_in, methods=["POST"]),
            Route("/sign-out", self.sign_out, methods=["POST"]),
            Route("/sign-out-everywhere", self.sign_out_everywhere, methods=["POST"]),
        ]

    def take_unseen(self, request: Request) -> list[Todo]:
        """The todos this client has not been sent yet, now remembered as sent."""
        unseen = self.todos.after(LAST_TODO.get(request))
        if unseen:
            LAST_TODO.set(request, unseen[-1].id)
        return unseen

    async def unseen_todos(self, request: Request) -> JSONResponse:
        return JSONResponse([todo.as_json() for todo in self.take_unseen(request)])

    async def add_todo(self, request: Request) -> JSONResponse:
        new = await _read_json(request, NewTodo, f'{{"content": "..."}}, 1 to {MAX_CONTENT}')
        if isinstance(new, JSONResponse):
            return new
        return JSONResponse(self.todos.add(new.content).as_json(), status_code=201)

    async def sign_in(self, request: Request) -> Response:
        signed_in = await _read_json(request, SignIn, f'{{"name": "..."}}, 1 to {MAX_NAME}')
        if isinstance(signed_in, JSONResponse):
            return signed_in
        session = get_session(request)
        session[self.user_key] = signed_in.name  # on a server-side store: a new session id
        return Response(status_code=204)

    async def sign_out(self, request: Request) -> Response:
        get_session(request).pop(self.user_key, None)  # the todo progress stays
        return Response(status_code=204)

    async def sign_out_everywhere(self, request: Request) -> JSONResponse:
        if self.no_devices is not None:
            return _problem(409, self.no_devices)
        session = get_session(request)
        user = session.get(self.user_key)
        if user is None:
            return _problem(409, "nobody is signed in on this device; sign in first")
        count = await get_store(request).revoke_user(user)
        session.clear()
        return JSONResponse({"signed_out": count})

    async def show_session(self, request: Request) -> JSONResponse:
        return JSONResponse(dict(get_session(request)))

    async def clear_session(self, request: Request) -> Response:
        get_session(request).clear()
        return Response(status_code=204)

    async def page(self, request: Request) -> HTMLResponse:
        unseen = self.take_unseen(request)
        nonce = secrets.token_urlsafe(16)
        body = render_page(
            unseen=unseen,
            last_id=LAST_TODO.get(request),
            session=dict(get_session(request)),
            total=len(self.todos),
            cookie_name=self.cookie_name,
            nonce=nonce,
            account=await self.account(request),
            store=self.store_kind,
        )
        return HTMLResponse(body, headers=_page_headers(nonce))

    async def account(self, request: Request) -> str:
        """The HTML of the account card: a sign-in form, or the user and their devices."""
        session = get_session(request)
        user = session.get(self.user_key)
        if user is None:
            return render_sign_in(self.no_devices)
        if self.no_devices is not None:
            return render_signed_in(str(user), None, None, self.no_devices)
        store = get_store(request)
        devices = await store.list_user(user)
        current = store.handle(session) if isinstance(store, ServerStore) else None
        return render_signed_in(str(user), devices, current, None)


def create_app(settings: SessionSettings | None = None) -> Starlette:
    """The demo app; ``settings`` default to :class:`SessionSettings` from the environment."""
    if settings is None:
        settings = SessionSettings()
    demo = TodoDemo(TodoList(), settings)
    middleware = [
        settings.middleware(),
        # Same-origin posts from the page pass (browsers send Sec-Fetch-Site/Origin);
        # cross-site ones are refused with 403.
        Middleware(CSRFMiddleware, settings=CSRFSettings()),
    ]
    app = Starlette(routes=demo.routes(), middleware=middleware)
    app.state.todos = demo.todos  # for tests and embedders: the app's TodoList
    return app


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


M = TypeVar("M", bound=BaseModel)


async def _read_json(request: Request, model: type[M], expected: str) -> M | JSONResponse:
    """The request's JSON body as ``model``, or the 4xx response saying what is wrong;
    ``expected`` describes a good body, for the messages."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("application/json"):
        return _problem(415, f"send JSON (Content-Type: application/json): {expected} characters")
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if errors[0]["type"] == "json_invalid":
            return _problem(400, f"the body is not valid JSON; send {expected} characters")
        return _problem(422, _describe(errors, expected))


def _describe(errors: Iterable[ErrorDetails], expected: str) -> str:
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts) + f" (send {expected} characters)"


def _why_no_devices(settings: SessionSettings) -> str | None:
    """Why the demo cannot list the user's devices with ``settings``; ``None`` if it can."""
    if settings.store == "cookie":
        return (
            "Device lists and signing out everywhere need a server-side store. With the "
            "cookie store (the default) your whole session lives in your browser's signed "
            "cookie: the server keeps no record of it, so it cannot list your devices or end "
            "a session on another one. Restart the demo with "
            "SESSION_STORE=memory python -m sessionkit demo to try them."
        )
    if settings.user_key is None:
        return (
            "SESSION_USER_KEY is none, so the store keeps no index of a user's sessions; "
            "restart the demo without it (the default is user_id) to list your devices."
        )
    return None


def _page_headers(nonce: str) -> dict[str, str]:
    policy = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src data:; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def render_page(
    *,
    unseen: list[Todo],
    last_id: int,
    session: dict[str, Any],
    total: int,
    cookie_name: str,
    nonce: str,
    account: str,
    store: str,
) -> str:
    """The HTML of ``GET /``; every value is escaped (``account`` is HTML, escaped already)."""
    items = "".join(_TODO_ITEM.format(id=t.id, content=html.escape(t.content)) for t in unseen)
    values = {
        "NONCE": nonce,
        "TODOS": items,
        "EMPTY_HIDDEN": " hidden" if unseen else "",
        "LAST_ID": str(last_id),
        "SESSION": html.escape(json.dumps(session, indent=2, ensure_ascii=False)),
        "TOTAL": str(total),
        "MAX": str(MAX_CONTENT),
        "ACCOUNT": account,
        "KEPT": (_KEPT_IN_COOKIE if store == "cookie" else _KEPT_ON_SERVER).format(
            store=store, cookie=html.escape(cookie_name)
        ),
    }
    # One pass: text put in by one marker is never read as another marker.
    return _MARKER.sub(lambda match: values[match.group(1)], _PAGE)


_KEPT_IN_COOKIE = "Kept in the signed cookie <code>{cookie}</code>."
_KEPT_ON_SERVER = (
    "Kept on the server, in the {store} store; the cookie <code>{cookie}</code> holds only a "
    "signed, random session id."
)
_MARKER = re.compile(r"@@([A-Z_]+)@@")
_TODO_ITEM = (
    '<li class="todo" data-id="{id}"><span class="id">#{id}</span>'
    '<span class="content">{content}</span></li>'
)
# The page template (inline CSS and JS only: no external assets), shipped in the package.
_PAGE = (resources.files("sessionkit") / "demo_page.html").read_text(encoding="utf-8")
