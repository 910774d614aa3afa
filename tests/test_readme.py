"""The README's examples run, and do what the README says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from sessionkit import SessionMiddleware
from tests.conftest import KEY

README = Path(__file__).parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def run_block(index: int) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"readme_block_{index}"}
    exec(compile(python_blocks()[index], f"README.md block {index}", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", KEY)


def test_readme_has_the_examples_this_file_checks() -> None:
    """The README keeps its three examples (this file checks each by position)."""
    assert len(python_blocks()) == 3


def test_quickstart_counts_visits_and_keeps_the_cart() -> None:
    """The quickstart app counts visits and its cart grows across requests."""
    client = TestClient(run_block(0)["app"])
    assert client.get("/").json() == {"visits": 1, "cart": [1]}
    assert client.get("/").json() == {"visits": 2, "cart": [1, 2]}
    assert "Max-Age=3600" in client.get("/").headers["set-cookie"]


def test_fastapi_example_persists_the_cart() -> None:
    """The FastAPI example's dependency gives a cart whose changes persist."""
    client = TestClient(run_block(1)["app"])
    assert client.post("/cart/3").json() == [3]
    assert client.post("/cart/4").json() == [3, 4]


def test_drop_in_example_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The drop-in example builds, with SECRET_KEY from the environment and https_only."""
    monkeypatch.setenv("SESSION_COOKIE", "sid")
    app = run_block(2)["app"]
    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/").status_code == 404  # no routes; the middleware built fine
    layer = app.middleware_stack
    while not isinstance(layer, SessionMiddleware):
        layer = layer.app
    assert layer.settings.session_cookie == "sid"
    assert layer.settings.https_only is True
