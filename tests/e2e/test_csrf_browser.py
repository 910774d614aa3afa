"""CSRF in a real browser: a page on another origin cannot post to the demo; the demo can."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from sessionkit.demo import EXAMPLE_TODOS
from tests.e2e.conftest import browser_unavailable, screenshot, serve

try:
    from playwright.sync_api import expect
except ImportError:
    browser_unavailable("Playwright is not installed (pip install playwright)")

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Page
    from starlette.requests import Request

    from tests.e2e.conftest import DemoServer

pytestmark = pytest.mark.e2e


def attacker_app(target: str) -> Starlette:
    """A page that, once loaded, submits a form to ``target`` (a classic CSRF attack)."""

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(
            '<!doctype html><title>Win a prize</title><link rel="icon" href="data:,">'
            f'<form id="attack" method="post" action="{html.escape(target)}">'
            '<input name="content" value="Transfer all the money"></form>'
            '<button id="go" onclick="document.getElementById(\'attack\').submit()">'
            "Claim</button>"
        )

    return Starlette(routes=[Route("/", page)])


@pytest.fixture
def attacker(demo_server: DemoServer) -> Iterator[str]:
    """The attack page, served from a second origin: http://localhost:PORT2."""
    with serve(attacker_app(f"{demo_server.url}/todos")) as port:
        yield f"http://localhost:{port}/"


def test_cross_site_form_post_is_rejected(
    page: Page, demo_server: DemoServer, attacker: str, page_errors: list[str]
) -> None:
    """A form on another origin posting to the demo gets 403 and adds no todo."""
    page.goto(attacker)
    with page.expect_response(f"{demo_server.url}/todos") as posted:
        page.locator("#go").click()
    response = posted.value
    assert response.status == 403
    assert "cross-origin request detected" in response.text()
    assert [todo.content for todo in demo_server.todos.after(0)] == list(EXAMPLE_TODOS)
    screenshot(page, "csrf-cross-site-rejected")
    page.wait_for_load_state("networkidle")  # the 403 page's own favicon request (a 404)
    forget_the_expected_errors(page_errors)


def test_demo_own_form_still_posts_after_an_attack(
    page: Page, demo_server: DemoServer, attacker: str, page_errors: list[str]
) -> None:
    """After a rejected cross-site post, the demo's own same-origin form adds a todo."""
    page.goto(attacker)
    with page.expect_response(f"{demo_server.url}/todos"):
        page.locator("#go").click()
    page.goto(demo_server.url + "/")
    page.get_by_placeholder("What needs doing?").fill("Legitimate todo")
    page.get_by_role("button", name="Add todo").click()
    expect(page.locator("#todos .content")).to_have_text([*EXAMPLE_TODOS, "Legitimate todo"])
    assert [todo.content for todo in demo_server.todos.after(3)] == ["Legitimate todo"]
    forget_the_expected_errors(page_errors)


def forget_the_expected_errors(page_errors: list[str]) -> None:
    """The browser logs the rejected navigation as a console error, and the plain-text
    403 page's favicon request as a 404: both are the rejection working."""
    page_errors[:] = [e for e in page_errors if "403" not in e and "404" not in e]
