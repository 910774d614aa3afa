"""The applications under test, the session data they carry, and their cookies.

Each flavor is the same Starlette application with the same routes:

- ``bare``: no session middleware; handlers skip the session operation (the baseline);
- ``starlette``: Starlette's own ``SessionMiddleware``;
- ``sessionkit``: ``sessionkit.SessionMiddleware`` built from ``SessionSettings``;
- ``minimal`` (in-process timing only): ``minimal.MinimalMiddleware``, the least a lazy
  session can do on sessionkit's codec, with the same settings and sessionkit's cookies;
- ``sealed`` (in-process timing only): sessionkit with ``encrypt=True``, its cookies sealed
  with AES-256-GCM (``sessionkit.sealing``) instead of only signed.

All middlewares get the same strong secret key. Starlette's and sessionkit's cookies
(signed and sealed) are made by that middleware itself (a request that writes the session,
its ``Set-Cookie`` captured), so each reads its own format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sessionkit import SessionKey, SessionSettings

from .minimal import MinimalMiddleware

if TYPE_CHECKING:
    from starlette.requests import Request

Flavor = Literal["bare", "starlette", "sessionkit", "minimal", "sealed"]
#: The apps of every table: the baseline and the two middlewares compared.
FLAVORS: tuple[Flavor, ...] = ("bare", "starlette", "sessionkit")
#: The in-process timing adds the minimal middleware on sessionkit's codec, and sealed cookies.
IN_PROCESS_FLAVORS: tuple[Flavor, ...] = (*FLAVORS, "minimal", "sealed")
#: The middlewares that write their own cookies (the minimal one reads sessionkit's).
MIDDLEWARES: tuple[Flavor, ...] = ("starlette", "sessionkit", "sealed")
#: Which cookie a request carries: none, a valid ~100 B or 2.5 KB one, or a tampered one.
CookieKind = Literal["none", "small", "large", "tampered"]


class Cart(BaseModel):
    """The typed entry that the ``SessionKey`` scenarios read and change in place."""

    items: list[int] = []
    coupon: str | None = None


CART = SessionKey("cart", Cart, default_factory=Cart)

#: A typical logged-in session: about 100 bytes of JSON.
SMALL: dict[str, Any] = {
    "user": {"id": 4242, "name": "Ada Lovelace", "roles": ["editor"]},
    "cart": {"items": [3, 1, 4], "coupon": None},
    "visits": 1,
}
#: The same session with a browsing history: a cookie of about 2.5 KB.
LARGE: dict[str, Any] = {
    **SMALL,
    "history": [{"path": f"/products/{1000 + i}", "at": 1_700_000_000 + 37 * i} for i in range(38)],
}
USER_NAME = "Ada Lovelace"
ANONYMOUS = "anonymous"


def build_app(flavor: Flavor, secret_key: str) -> Starlette:
    """The benchmark application, with the session middleware of ``flavor``."""
    bare = flavor == "bare"
    typed = flavor in ("sessionkit", "sealed")

    async def untouched(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def read(request: Request) -> PlainTextResponse:
        if bare:
            return PlainTextResponse(USER_NAME)
        user = request.session.get("user")
        return PlainTextResponse(user["name"] if user else ANONYMOUS)

    async def write(request: Request) -> PlainTextResponse:
        if bare:
            return PlainTextResponse("2")
        session = request.session
        visits: int = session.get("visits", 0) + 1
        session["visits"] = visits
        return PlainTextResponse(str(visits))

    async def login(request: Request) -> PlainTextResponse:
        if not bare:
            request.session.update(SMALL)
        return PlainTextResponse("ok")

    async def seed_large(request: Request) -> PlainTextResponse:
        if not bare:
            request.session.update(LARGE)
        return PlainTextResponse("ok")

    async def cart(request: Request) -> PlainTextResponse:
        if bare:
            return PlainTextResponse("3")
        if typed:
            return PlainTextResponse(str(len(CART.get(request).items)))
        # Starlette: the equivalent plain-dict read.
        plain = request.session.get("cart") or {"items": []}
        return PlainTextResponse(str(len(plain["items"])))

    async def cart_add(request: Request) -> PlainTextResponse:
        if bare:
            return PlainTextResponse("4")
        if typed:
            model = CART.get(request)
            model.items.append(7)  # in place: sessionkit persists it
            return PlainTextResponse(str(len(model.items)))
        # Starlette does not see in-place changes: change the dict, then store it again.
        session = request.session
        plain = session.get("cart") or {"items": [], "coupon": None}
        plain["items"].append(7)
        session["cart"] = plain
        return PlainTextResponse(str(len(plain["items"])))

    routes = [
        Route("/untouched", untouched),
        Route("/read", read),
        Route("/write", write),
        Route("/login", login),
        Route("/seed-large", seed_large),
        Route("/cart", cart),
        Route("/cart/add", cart_add),
    ]
    return Starlette(routes=routes, middleware=middleware_for(flavor, secret_key))


def middleware_for(flavor: Flavor, secret_key: str) -> list[Middleware]:
    """The middleware list of ``flavor``: nothing, Starlette's, sessionkit's (signed or
    sealed), or the minimal."""
    if flavor == "bare":
        return []
    if flavor == "starlette":
        return [Middleware(StarletteSessionMiddleware, secret_key=secret_key)]
    if flavor == "minimal":
        return [Middleware(MinimalMiddleware, settings=settings_for(secret_key))]
    return [settings_for(secret_key, encrypt=flavor == "sealed").middleware()]


def settings_for(secret_key: str, *, encrypt: bool = False) -> SessionSettings:
    """sessionkit's settings: Starlette's defaults (14-day ``max_age``, ``lax``)."""
    return SessionSettings.from_config({"secret_key": secret_key, "encrypt": encrypt})


def tamper(cookie: str) -> str:
    """``cookie`` with one character of its payload changed: a bad signature."""
    index = 8
    swapped = "B" if cookie[index] != "B" else "C"
    return cookie[:index] + swapped + cookie[index + 1 :]
