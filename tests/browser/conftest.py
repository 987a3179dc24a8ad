"""A headless Debian chromium driven by selenium through chromium-driver (scripts/test
installs both). Missing, the browser tests FAIL with what to install: they must run in CI.

Selenium is blocking and the server under test runs on this test's event loop, so every
browser call goes through `Browser.run` (a worker thread), never straight from the loop.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")
WAIT = 15.0  # seconds a page may take to show what the test waits for


class Browser:
    def __init__(self, driver: WebDriver, base: str) -> None:
        self.driver = driver
        self.base = base

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.to_thread(fn, *args)

    async def get(self, path: str) -> None:
        await self.run(self.driver.get, self.base + path)

    async def until(self, condition: Callable[[WebDriver], T], limit: float = WAIT) -> T:
        """Wait (off the loop) until `condition(driver)` is truthy; its value. An element
        gone or not there yet (the page is being replaced after a POST) means "not yet"."""
        ignored = (StaleElementReferenceException, NoSuchElementException)
        return await self.run(lambda: WebDriverWait(
            self.driver, limit, 0.1, ignored_exceptions=ignored).until(condition))


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"{' or '.join(names)} not found: the browser test needs Debian's chromium "
                "and chromium-driver (scripts/test installs them as root: "
                "apt-get install chromium chromium-driver)")


@pytest.fixture
async def chromium() -> AsyncIterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("chromium", "chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    service = Service(_binary("chromedriver"))
    driver = await asyncio.to_thread(webdriver.Chrome, options=options, service=service)
    try:
        yield driver
    finally:
        await asyncio.to_thread(driver.quit)
