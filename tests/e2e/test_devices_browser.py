"""Two devices in a real browser: two chromium profiles signed in as one user on the demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from sessionkit import SessionSettings
from sessionkit.demo import create_app
from tests.conftest import KEY
from tests.e2e.conftest import browser_unavailable, screenshot, serve

try:
    from playwright.sync_api import expect
except ImportError:
    browser_unavailable("Playwright is not installed (pip install playwright)")

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e


@pytest.fixture
def memory_demo() -> Iterator[str]:
    """The demo on the memory store, in one uvicorn server (the store is per process)."""
    with serve(create_app(SessionSettings(secret_key=KEY, store="memory"))) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def devices(browser: Browser, memory_demo: str) -> Iterator[tuple[Page, Page]]:
    """Two browser profiles (no shared cookies), a phone and a laptop, that log no error."""
    contexts = [browser.new_context(base_url=memory_demo) for _ in range(2)]
    errors: list[str] = []
    try:
        pages = []
        for context in contexts:
            context.set_default_timeout(10_000)
            page = context.new_page()
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            pages.append(page)
        yield pages[0], pages[1]
    finally:
        for context in contexts:
            context.close()
    assert not errors, f"the pages logged errors: {errors}"


def sign_in(page: Page, name: str) -> None:
    page.goto("/")
    page.get_by_placeholder("Your name").fill(name)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#user")).to_have_text(name)


def test_two_devices_each_see_both_and_mark_their_own(devices: tuple[Page, Page]) -> None:
    """Signed in as one user in two profiles, each page lists two devices, its own marked."""
    phone, laptop = devices
    sign_in(phone, "ann")
    sign_in(laptop, "ann")
    phone.reload()
    for page in (phone, laptop):
        expect(page.locator("#devices .device")).to_have_count(2)
        expect(page.locator("#devices .device.current")).to_have_count(1)
        expect(page.locator("#devices .current")).to_contain_text("this device")
    mine = phone.locator("#devices .current").get_attribute("data-handle")
    theirs = laptop.locator("#devices .current").get_attribute("data-handle")
    assert mine is not None
    assert theirs is not None
    assert mine != theirs
    screenshot(phone, "demo-two-devices")


def test_sign_out_everywhere_signs_the_other_device_out(devices: tuple[Page, Page]) -> None:
    """ "Sign out everywhere" on one device signs the other out on its next request."""
    phone, laptop = devices
    sign_in(phone, "ann")
    sign_in(laptop, "ann")
    laptop.get_by_role("button", name="Sign out everywhere").click()
    expect(laptop.get_by_role("button", name="Sign in")).to_be_visible()
    phone.reload()
    expect(phone.get_by_role("button", name="Sign in")).to_be_visible()
    expect(phone.locator("#user")).to_have_count(0)


def test_sign_out_this_device_leaves_the_other_signed_in(devices: tuple[Page, Page]) -> None:
    """ "Sign out this device" signs out only this profile; the other lists one device."""
    phone, laptop = devices
    sign_in(phone, "ann")
    sign_in(laptop, "ann")
    phone.get_by_role("button", name="Sign out this device").click()
    expect(phone.get_by_role("button", name="Sign in")).to_be_visible()
    laptop.reload()
    expect(laptop.locator("#user")).to_have_text("ann")
    expect(laptop.locator("#devices .device")).to_have_count(1)
    expect(laptop.locator("#devices .current")).to_have_count(1)
