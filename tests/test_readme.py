"""The README's example runs, and does what the README says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from tests.conftest import KEY
from tests.test_server import uvicorn_process

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


def quickstart_commands() -> list[str]:
    """The shell lines of the README's Quickstart section, in order."""
    section = README.read_text().split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_quickstart_says_how_to_install_and_run() -> None:
    """The Quickstart installs uvicorn with sessionkit, makes a key, and runs app.py."""
    commands = quickstart_commands()
    assert commands[0] == "python -m pip install -e '.[demo]'"
    assert "python -m sessionkit generate-key" in commands[1]
    assert commands[-1] == "uvicorn app:app"
    assert "Save this as `app.py`" in README.read_text()


def test_quickstart_runs_under_the_command_it_gives(tmp_path: Path) -> None:
    """Saved as app.py and run with the README's uvicorn command, the app counts visits."""
    (tmp_path / "app.py").write_text(python_blocks()[0])
    program, *arguments = shlex.split(quickstart_commands()[-1])
    assert program == "uvicorn"
    with uvicorn_process(arguments, tmp_path, {}) as url, httpx2.Client(base_url=url) as client:
        assert client.get("/").json() == {"visits": 1}
        assert client.get("/").json() == {"visits": 2}
