"""Typing checks for sessionkit.testing: mypy checks this file; pytest never collects it."""

from __future__ import annotations

from typing import Any, assert_type

import httpx2
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.testclient import TestClient

from sessionkit import SessionMiddleware, SessionSettings
from sessionkit.testing import (
    aread_session,
    aset_session,
    read_session,
    session_transaction,
    set_session,
)


def sync_clients(client: TestClient, plain: httpx2.Client, settings: SessionSettings) -> None:
    assert_type(set_session(client, {"user_id": 7}), None)
    assert_type(set_session(plain, {"user_id": 7}, settings=settings), None)
    assert_type(read_session(client), dict[str, Any])
    with session_transaction(client) as session:
        assert_type(session, dict[str, Any])
    set_session(client, ["user_id"])  # type: ignore[arg-type]
    set_session(client, {"user_id": 7}, settings)  # type: ignore[call-arg]
    read_session("http://testserver")  # type: ignore[arg-type]


async def async_clients(
    client: httpx2.AsyncClient, app: Starlette, api: FastAPI, layer: SessionMiddleware
) -> None:
    assert_type(await aset_session(client, {"user_id": 7}, app=app), None)
    assert_type(await aread_session(client, app=api), dict[str, Any])
    assert_type(await aread_session(client, app=layer), dict[str, Any])
    async with session_transaction(client, app=app) as session:
        assert_type(session, dict[str, Any])
    aset_session(client, {})  # type: ignore[unused-coroutine]
