"""The demo in a real browser: headless chromium against the demo served by uvicorn."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import pytest

from sessionkit import SessionCodec
from sessionkit.demo import EXAMPLE_TODOS
from tests.conftest import KEY
from tests.e2e.conftest import browser_unavailable, screenshot

try:
    from playwright.sync_api import expect
except ImportError:
    browser_unavailable("Playwright is not installed (pip install playwright)")

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Cookie, Page

    from tests.e2e.conftest import DemoServer

pytestmark = pytest.mark.e2e


def session_cookie(context: BrowserContext) -> Cookie:
    cookies = [c for c in context.cookies() if c.get("name") == "session"]
    assert len(cookies) == 1, cookies
    return cookies[0]


def test_page_lists_the_todos(page: Page) -> None:
    """The page loads and lists every example todo for a new browser, and the session."""
    response = page.goto("/")
    assert response is not None
    assert response.status == 200
    expect(page.locator("#todos .content")).to_have_text(list(EXAMPLE_TODOS))
    expect(page.locator("#todos .id")).to_have_text(["#1", "#2", "#3"])
    expect(page.locator("#empty")).to_be_hidden()
    expect(page.locator("#session")).to_contain_text('"last_todo_id": 3')


def test_adding_a_todo_through_the_page(page: Page, demo_server: DemoServer) -> None:
    """Typing a todo and pressing Add posts it; it appears in the list and the session."""
    page.goto("/")
    page.get_by_placeholder("What needs doing?").fill("Water the plants")
    page.get_by_role("button", name="Add todo").click()
    expect(page.locator("#todos .content")).to_have_text([*EXAMPLE_TODOS, "Water the plants"])
    expect(page.locator("#content")).to_have_value("")
    expect(page.locator("#session")).to_contain_text('"last_todo_id": 4')
    expect(page.locator("#total")).to_have_text("4")
    assert [todo.content for todo in demo_server.todos.after(3)] == ["Water the plants"]
    screenshot(page, "demo-after-adding")


def test_adding_an_empty_todo_shows_the_reason(page: Page, page_errors: list[str]) -> None:
    """A whitespace-only todo is refused by the server (422) and the page says why."""
    page.goto("/")
    page.locator("#content").fill("   ")
    page.get_by_role("button", name="Add todo").click()
    expect(page.get_by_role("alert")).to_contain_text("at least 1 character")
    expect(page.locator("#todos .todo")).to_have_count(len(EXAMPLE_TODOS))
    assert len(page_errors) == 1
    assert "422" in page_errors[0]
    page_errors.clear()


def test_reload_shows_only_unseen_todos(page: Page, demo_server: DemoServer) -> None:
    """Reloading lists nothing already shown, then only todos added since."""
    page.goto("/")
    page.reload()
    expect(page.locator("#todos .todo")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()
    screenshot(page, "demo-all-caught-up")
    added = page.request.post("/todos", data={"content": "Added elsewhere"})
    assert added.status == 201
    page.reload()
    expect(page.locator("#todos .content")).to_have_text(["Added elsewhere"])
    expect(page.locator("#todos .id")).to_have_text(["#4"])


def test_session_cookie_is_http_only(page: Page, context: BrowserContext) -> None:
    """Scripts cannot read the session cookie, but the browser holds it, HttpOnly."""
    page.goto("/")
    assert "session=" not in page.evaluate("document.cookie")
    expect(page.locator("#doc-cookie")).to_have_text('""')
    cookie = session_cookie(context)
    assert cookie.get("httpOnly") is True
    assert cookie.get("sameSite") == "Lax"


def test_tampered_cookie_gives_a_fresh_session(page: Page, context: BrowserContext) -> None:
    """A cookie whose data was changed in the browser yields a fresh session, not an error."""
    page.goto("/")
    cookie = session_cookie(context)
    value = cookie.get("value", "")
    forged = base64.urlsafe_b64encode(b'{"last_todo_id":99}').rstrip(b"=").decode()
    tampered = forged + value[value.index(".") :]
    context.add_cookies([{"name": "session", "value": tampered, "url": page.url, "httpOnly": True}])
    assert session_cookie(context).get("value") == tampered
    response = page.reload()
    assert response is not None
    assert response.status == 200
    expect(page.locator("#todos .content")).to_have_text(list(EXAMPLE_TODOS))
    decoded = SessionCodec([KEY]).decode(session_cookie(context).get("value", ""))
    assert decoded is not None
    assert decoded.data == {"last_todo_id": 3}


def test_forget_me_clears_the_session(page: Page) -> None:
    """The Forget me button clears the session: every todo is new again."""
    page.goto("/")
    page.reload()
    expect(page.locator("#todos .todo")).to_have_count(0)
    page.get_by_role("button", name="Forget me").click()
    expect(page.locator("#todos .content")).to_have_text(list(EXAMPLE_TODOS))


def test_signing_in_on_the_cookie_store_says_why_no_devices(page: Page) -> None:
    """On the default cookie store, signing in works and the page says devices need a
    server-side store; signing out shows the form again."""
    page.goto("/")
    expect(page.locator("#account")).to_contain_text("No password")
    page.get_by_placeholder("Your name").fill("ann")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#user")).to_have_text("ann")
    expect(page.locator("#no-devices")).to_contain_text("need a server-side store")
    expect(page.locator("#session")).to_contain_text('"user_id": "ann"')
    expect(page.get_by_role("button", name="Sign out everywhere")).to_have_count(0)
    screenshot(page, "demo-signed-in-cookie-store")
    page.get_by_role("button", name="Sign out this device").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
