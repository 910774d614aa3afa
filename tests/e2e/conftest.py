"""Fixtures for end-to-end tests: the demo served by uvicorn, driven by Debian's chromium.

Without a browser (or Playwright) these tests skip, saying why; with
``SESSIONKIT_REQUIRE_BROWSER=1`` (as CI sets) a missing browser fails them instead.
Playwright drives the system's chromium: never ``playwright install``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest
import uvicorn

from sessionkit import SessionSettings
from sessionkit.demo import TodoList, create_app
from tests.conftest import KEY

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, BrowserContext, Page
    from starlette.types import ASGIApp

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Screenshots taken during the run, for a person to look at (gitignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end tests in a real browser (chromium driven by Playwright)"
    )


def browser_unavailable(reason: str) -> NoReturn:
    """Skip the browser tests, or fail them when SESSIONKIT_REQUIRE_BROWSER=1."""
    if os.environ.get("SESSIONKIT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; SESSIONKIT_REQUIRE_BROWSER=1 requires the browser tests to run")
    pytest.skip(reason, allow_module_level=True)


def chromium_path() -> str:
    """The system chromium: $SESSIONKIT_CHROMIUM, else `chromium` on PATH."""
    path = os.environ.get("SESSIONKIT_CHROMIUM") or shutil.which("chromium")
    if path is None or not os.access(path, os.X_OK):
        browser_unavailable(
            "no chromium browser found (apt-get install chromium, or set SESSIONKIT_CHROMIUM)"
        )
    return path


# Module scope, not session: while Playwright's sync API is running, asyncio.run() fails in
# the same thread, so Playwright must stop before the rest of the suite runs.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium per test module, closed after the module's last test."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("Playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass(frozen=True)
class DemoServer:
    url: str
    todos: TodoList


@contextmanager
def serve(app: ASGIApp, host: str = "127.0.0.1") -> Iterator[int]:
    """Serve ``app`` with uvicorn on ``host`` and a free port, in a thread; always stopped."""
    sock = socket.socket()
    sock.bind((host, 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start in 10 seconds"
            time.sleep(0.02)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def demo_server() -> Iterator[DemoServer]:
    """A fresh demo app served by uvicorn on 127.0.0.1, in a thread; always stopped."""
    app = create_app(SessionSettings(secret_key=KEY))
    with serve(app) as port:
        yield DemoServer(f"http://127.0.0.1:{port}", app.state.todos)


@pytest.fixture
def context(browser: Browser, demo_server: DemoServer) -> Iterator[BrowserContext]:
    """A new browser profile (no cookies) pointed at the demo server."""
    context = browser.new_context(base_url=demo_server.url)
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Errors the page logs; a test that expects one removes it."""
    return []


@pytest.fixture
def page(context: BrowserContext, page_errors: list[str]) -> Iterator[Page]:
    """A page of the demo; the test fails if the page logs an error (CSP, script, 404...)."""
    page = context.new_page()
    page.on("console", lambda msg: page_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    yield page
    assert not page_errors, f"the page logged errors: {page_errors}"


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
