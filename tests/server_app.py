"""A small counter app that the real-server tests run under uvicorn (not a test module).

Its settings come from the environment, as in production: SECRET_KEY is set by the test.
"""

from __future__ import annotations

import asyncio
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from sessionkit import SessionKey, SessionSettings, get_store

COUNT = SessionKey("count", int, default=0)


async def increment(request: Request) -> JSONResponse:
    count = COUNT.get(request) + 1
    COUNT.set(request, count)
    return JSONResponse({"count": count, "server": os.environ.get("SERVER_NAME", "")})


async def set_after_a_while(request: Request) -> JSONResponse:
    """Loads the session, waits, then sets one entry: requests that overlap."""
    request.session.get("count")
    await asyncio.sleep(float(request.query_params.get("wait", "0.3")))
    request.session[request.query_params["key"]] = request.query_params["value"]
    return JSONResponse({})


async def show(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def login(request: Request) -> JSONResponse:
    request.session["user_id"] = request.query_params["user"]
    return JSONResponse({})


async def sign_out_everywhere(request: Request) -> JSONResponse:
    return JSONResponse(await get_store(request).revoke_user(request.session["user_id"]))


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/increment", increment, methods=["POST"]),
        Route("/set", set_after_a_while, methods=["POST"]),
        Route("/session", show),
        Route("/login", login, methods=["POST"]),
        Route("/everywhere", sign_out_everywhere, methods=["POST"]),
        Route("/health", health),
    ],
    middleware=[SessionSettings.from_config().middleware()],
)
