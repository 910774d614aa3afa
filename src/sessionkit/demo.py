"""The demo application: a todo list that shows each browser only the todos it has not seen.

The session holds one typed value, the id of the last todo sent to this client
(``LAST_TODO``); every other byte of state lives on the server, in memory, per app instance.
Todo ids start at 1 and never repeat, so they are never confused with list positions.

Routes:

- ``GET /`` an HTML page listing the todos this browser has not seen yet (and marking them
  seen), with a form to add one and a view of what the session holds;
- ``GET /unseen-todos`` the same todos as JSON ``[{"id", "content"}]``, marked seen;
- ``POST /todos`` ``{"content": "..."}`` adds a todo: 201 and the todo, or a 4xx saying why;
- ``GET /session`` the session's content as JSON; ``DELETE /session`` clears it.

Run it with ``python -m sessionkit demo``, or ``uvicorn --factory sessionkit.demo:create_app``.
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
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sessionkit.csrf import CSRFMiddleware, CSRFSettings
from sessionkit.keys import SessionKey
from sessionkit.middleware import get_session
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


class TodoDemo:
    """The demo's endpoints, bound to one :class:`TodoList`."""

    def __init__(self, todos: TodoList, cookie_name: str) -> None:
        self.todos = todos
        self.cookie_name = cookie_name

    def routes(self) -> list[Route]:
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/unseen-todos", self.unseen_todos, methods=["GET"]),
            Route("/todos", self.add_todo, methods=["POST"]),
            Route("/session", self.show_session, methods=["GET"]),
            Route("/session", self.clear_session, methods=["DELETE"]),
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
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("application/json"):
            return _problem(415, 'send JSON (Content-Type: application/json): {"content": "..."}')
        try:
            new = NewTodo.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            if errors[0]["type"] == "json_invalid":
                return _problem(400, 'the body is not valid JSON; send {"content": "..."}')
            return _problem(422, _describe(errors))
        return JSONResponse(self.todos.add(new.content).as_json(), status_code=201)

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
        )
        return HTMLResponse(body, headers=_page_headers(nonce))


def create_app(settings: SessionSettings | None = None) -> Starlette:
    """The demo app; ``settings`` default to :class:`SessionSettings` from the environment."""
    if settings is None:
        settings = SessionSettings()
    demo = TodoDemo(TodoList(), settings.session_cookie)
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


def _describe(errors: Iterable[ErrorDetails]) -> str:
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts) + f' (send {{"content": "..."}}, 1 to {MAX_CONTENT} characters)'


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
) -> str:
    """The HTML of ``GET /``; every value is escaped."""
    items = "".join(_TODO_ITEM.format(id=t.id, content=html.escape(t.content)) for t in unseen)
    values = {
        "NONCE": nonce,
        "TODOS": items,
        "EMPTY_HIDDEN": " hidden" if unseen else "",
        "LAST_ID": str(last_id),
        "SESSION": html.escape(json.dumps(session, indent=2, ensure_ascii=False)),
        "TOTAL": str(total),
        "COOKIE": html.escape(cookie_name),
        "MAX": str(MAX_CONTENT),
    }
    # One pass: text put in by one marker is never read as another marker.
    return _MARKER.sub(lambda match: values[match.group(1)], _PAGE)


_MARKER = re.compile(r"@@([A-Z_]+)@@")
_TODO_ITEM = (
    '<li class="todo" data-id="{id}"><span class="id">#{id}</span>'
    '<span class="content">{content}</span></li>'
)
# The page template (inline CSS and JS only: no external assets), shipped in the package.
_PAGE = (resources.files("sessionkit") / "demo_page.html").read_text(encoding="utf-8")
