"""Typing checks for SessionKey: mypy checks this file; pytest never collects it."""

from __future__ import annotations

from typing import assert_type

from pydantic import BaseModel
from starlette.requests import Request
from starlette.websockets import WebSocket

from sessionkit import Session, SessionKey, get_session


class Cart(BaseModel):
    items: list[int] = []


LAST = SessionKey("last", int, default=-1)
CART = SessionKey("cart", Cart, default_factory=Cart)
TAGS = SessionKey("tags", list[str], default_factory=list)


def inferred_types(request: Request, websocket: WebSocket) -> None:
    assert_type(LAST, SessionKey[int])
    assert_type(LAST.get(request), int)
    assert_type(CART.get(request), Cart)
    assert_type(CART.get(websocket), Cart)
    assert_type(TAGS.get(request), list[str])
    assert_type(get_session(request), Session)


def wrong_uses(request: Request) -> None:
    LAST.set(request, "42")  # type: ignore[arg-type]
    CART.set(request, [1, 2])  # type: ignore[arg-type]
    name: str = LAST.get(request)  # type: ignore[assignment]
    TAGS.get(request).append(3)  # type: ignore[arg-type]
    SessionKey("n", int, default_factory=str)  # type: ignore[arg-type]
    del name
