"""Browser tests of the portal against the running stack: Debian's Chromium driven by Playwright.

The stack fixtures come from tests/conftest.py (the same running stack and API key as the integration tests). Screenshots of
every step land in .run/e2e/screenshots/<test>/ (git-ignored, kept after the run)."""
import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, FrameLocator, Page, async_playwright, expect

from tests.integration.stack import ROOT, connection_config_with, is_ours

CHROMIUM = os.environ.get("PORTICO_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = ROOT / ".run" / "e2e" / "screenshots"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        yield launched
        await launched.close()


@dataclass
class ConsoleErrors:
    """Errors a page logged: script exceptions and console.error, plus the browser's own error lines."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"{message.text} @ {message.location.get('url', '')}")

    def unexpected(self, *allowed: str) -> list[str]:
        """Errors other than the browser's log of an API answer the test provoked on purpose
        (for example "Failed to load resource: … status of 422")."""
        return [m for m in self.messages if not any(re.search(pattern, m) for pattern in allowed)]


@dataclass
class Screenshots:
    folder: Path
    count: int = 0

    async def take(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        await page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Screenshots(folder)


@pytest.fixture
async def context(browser: Browser, proxy_url: str) -> AsyncIterator[BrowserContext]:
    created = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-GB", timezone_id="UTC")
    created.set_default_timeout(TIMEOUT_MS)
    await created.grant_permissions(["clipboard-read", "clipboard-write"], origin=proxy_url)
    yield created
    await created.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    opened = await context.new_page()
    yield opened


@pytest.fixture
def console(page: Page) -> ConsoleErrors:
    errors = ConsoleErrors()
    errors.watch(page)
    return errors


async def managed_connections(api: httpx.AsyncClient, org_id: str) -> list[dict]:
    response = await api.get(f"/api/v1/organizations/{org_id}/connections")
    assert response.status_code == 200, response.text
    return response.json()["connections"]


@contextmanager
def connection_config_allowing(proxy: str, host_port: str) -> Iterator[None]:
    """Restart connection-config so outbound fetches may reach `host_port` on loopback, then restore it
    (restarted without PORTICO_OUTBOUND_ALLOW_HOSTS) whatever happens."""
    if not is_ours("connection-config"):
        pytest.skip("connection-config was not started by deploy/local, so it cannot be restarted here")
    with connection_config_with(proxy, PORTICO_OUTBOUND_ALLOW_HOSTS=host_port):
        yield


async def pass_test_step(page: Page, portal: Page | FrameLocator) -> None:
    """The guide's test step: press Test connection (the sign-in opens in a new tab, at a loopback IdP that
    signs in without a form), wait until the guide shows the test succeeded, and close that tab."""
    async with page.context.expect_page() as opened:
        await portal.get_by_role("button", name="Test connection").click()
    await expect(portal.locator("#test-succeeded")).to_be_visible(timeout=30_000)
    await (await opened.value).close()
    await expect(portal.get_by_role("button", name="Enable single sign-on")).to_be_enabled()


def path_of(url: str) -> str:
    return urlsplit(url).path
