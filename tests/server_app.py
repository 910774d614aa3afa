"""A small counter app that the real-server tests run under uvicorn (not a test module).

Its settings come from the environment, as in production: SECRET_KEY is set by the test.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from sessionkit import SessionKey, SessionSettings

COUNT = SessionKey("count", int, default=0)


async def increment(request: Request) -> JSONResponse:
    count = COUNT.get(request) + 1
    COUNT.set(request, count)
    return JSONResponse({"count": count, "server": os.environ.get("SERVER_NAME", "")})


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[Route("/increment", increment, methods=["POST"]), Route("/health", health)],
    middleware=[SessionSettings.from_config().middleware()],
)
