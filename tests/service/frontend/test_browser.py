"""The UI end to end in Debian's Chromium driven by Playwright: edit a photo, define an attribute and use it, see
the result zoomed on the edited region beside the whole photo, a new photo clearing the old result, and API errors
in the UI's own words."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from tests.images import png

WIDE = (160, 60)  # crop=center edits the middle 60 x 60 square: the zoomed view shows less than the whole photo

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


def stage_box(page) -> list[int]:
    return [int(value) for value in page.get_attribute("#stage", "data-box").split(",")]


def test_the_result_is_zoomed_on_the_edit_and_a_new_photo_clears_it(page):
    page.wait_for_selector('#edit-attributes .chip[data-name="smiling"]')
    photo = {"name": "wide.png", "mimeType": "image/png", "buffer": png(*WIDE, seed=3)}
    page.set_input_files("#edit-file", [photo])
    page.click('#edit-attributes .chip[data-name="smiling"] .plus')
    page.fill("#strength", "10")
    page.select_option("#edit-crop", "center")
    page.click("#edit-run")
    edited_image_source(page)
    page.wait_for_selector("#result-bar:not([hidden])")
    assert page.get_attribute("#stage", "data-view") == "face"
    x, _, width, _ = stage_box(page)
    assert 0 < x and x + width < WIDE[0] and width < WIDE[0]  # around the centre square, not the whole photo
    stage, after = (page.locator(selector).bounding_box() for selector in ("#stage", "#after"))
    assert after["width"] > stage["width"] * 1.2  # the edited photo is shown enlarged
    assert "Zoomed on the edited face" in page.text_content("#result-note")

    page.click("#show-whole")
    assert page.get_attribute("#stage", "data-view") == "whole" and stage_box(page) == [0, 0, *WIDE]
    page.fill("#reveal", "0")
    assert page.evaluate("document.getElementById('after-layer').style.clipPath") == "inset(0px 0px 0px 0%)"
    assert page.is_visible("#download")

    page.set_input_files("#edit-file", image_files("other", 1, 20))  # a new photo: the old result goes
    assert page.is_hidden("#after-layer") and page.is_hidden("#download") and page.is_hidden("#result-bar")
    assert page.get_attribute("#after", "src") is None
    page.select_option("#edit-crop", "face")  # random pixels hold no face: this edit fails
    page.click("#edit-run")
    page.wait_for_selector("#error:not([hidden])")
    error = page.text_content("#error")
    assert 'Crop "centre square"' in error and 'Crop "already aligned"' in error and "crop=" not in error
    assert page.is_hidden("#download") and page.is_hidden("#after-layer")


def test_built_ins_are_described_and_no_accuracy_cell_is_blank(page):
    page.click("#tab-define")
    page.wait_for_selector('#attribute-table tr[data-name="blond_pu"]')
    assert "defined from positive examples only" in page.text_content('#attribute-table tr[data-name="blond_pu"] td')
    cells = page.eval_on_selector_all("#attribute-table tr", "rows => rows.map(row => row.children[5].textContent)")
    assert cells and all(cell.strip() for cell in cells)
    label, box = (page.locator(selector).bounding_box() for selector in ('label:has(#define-mirror)', "#define-mirror"))
    assert label["height"] < 3 * box["height"]  # the checkbox sits on its label's line


def test_api_errors_are_shown(page):
    page.wait_for_selector('#generate-attributes .chip[data-name="smiling"]', state="attached")
    page.click("#tab-generate")
    page.click('#generate-attributes .chip[data-name="smiling"] .plus')
    page.fill("#generate-n", "100")
    page.click("#generate-run")
    page.wait_for_selector("#error:not([hidden])")
    assert "How many:" in page.text_content("#error") and "64" in page.text_content("#error")
