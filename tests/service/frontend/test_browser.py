"""The UI end to end in Debian's Chromium driven by Playwright: edit a photo, define an attribute and use it,
and see an API error."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from tests.images import png

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def base_url(app, worker):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture()
def page(base_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--headless", "--no-sandbox", "--disable-gpu",
                                                   "--disable-background-networking"])
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(base_url)
        yield page
        browser.close()


def image_files(prefix: str, count: int, seed: int) -> list[dict]:
    return [{"name": f"{prefix}{index}.png", "mimeType": "image/png", "buffer": png(seed=seed + index)}
            for index in range(count)]


def edited_image_source(page) -> str:
    page.wait_for_function("() => { const img = document.getElementById('after'); "
                           "return !img.hidden && img.naturalWidth > 0; }")
    return page.get_attribute("#after", "src")


def test_edit_a_photo_then_define_an_attribute_and_use_it(page):
    page.wait_for_selector('#edit-attributes .chip[data-name="smiling"]')
    page.set_input_files("#edit-file", image_files("photo", 1, 0))
    page.click('#edit-attributes .chip[data-name="smiling"] .plus')
    page.select_option("#edit-crop", "none")
    page.click("#edit-run")
    first = edited_image_source(page)
    assert page.is_hidden("#error")
    assert page.is_visible("#download")

    page.click("#tab-define")
    page.fill("#define-name", "ui_made")
    page.set_input_files("#positive-files", image_files("pos", 5, 10))
    page.set_input_files("#negative-files", image_files("neg", 5, 40))
    page.select_option("#define-crop", "center")
    page.click("#define-run")
    page.wait_for_function("() => document.getElementById('define-status').textContent.includes('ui_made is ready')")
    assert page.is_visible('#attribute-table tr[data-name="ui_made"]')

    page.click("#tab-edit")
    page.click('#edit-attributes .chip[data-name="smiling"] .plus')  # toggles smiling off again
    page.click('#edit-attributes .chip[data-name="ui_made"] .minus')
    page.click("#edit-run")
    page.wait_for_function(f"() => document.getElementById('after').src !== {first!r}")
    assert edited_image_source(page) != first
    assert page.is_hidden("#error")


def test_api_errors_are_shown(page):
    page.wait_for_selector('#generate-attributes .chip[data-name="smiling"]', state="attached")
    page.click("#tab-generate")
    page.click('#generate-attributes .chip[data-name="smiling"] .plus')
    page.fill("#generate-n", "100")
    page.click("#generate-run")
    page.wait_for_selector("#error:not([hidden])")
    assert "n:" in page.text_content("#error") and "64" in page.text_content("#error")
