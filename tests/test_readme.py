"""The README's example runs, and does what the README says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

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


def test_readme_has_one_short_example() -> None:
    """The README keeps one example of about fifteen lines of code; the rest is in docs/."""
    blocks = python_blocks()
    assert len(blocks) == 1
    code = [line for line in blocks[0].splitlines() if line.strip()]
    assert len(code) <= 16


def test_quickstart_counts_visits() -> None:
    """The quickstart app counts visits in a typed entry, with the configured max_age."""
    client = TestClient(run_block(0)["app"])
    assert client.get("/").json() == {"visits": 1}
    response = client.get("/")
    assert response.json() == {"visits": 2}
    assert "Max-Age=3600" in response.headers["set-cookie"]
