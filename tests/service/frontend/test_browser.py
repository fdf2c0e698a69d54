"""The UI end to end in Debian's Chromium driven by Playwright: edit a photo, define an attribute and use it, see
the result zoomed on the edited region beside the whole photo, the faces found outlined and summed up, a new photo
clearing the old result, attributes' example framing and tuned strength, and API errors in the UI's own words."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from contract import attributes
from tests.images import png
from tests.service.finished_jobs import TWO_FACES, edit_with_faces

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


def test_the_faces_found_are_outlined_and_summed_up(page, redis):
    job_id = edit_with_faces(redis, TWO_FACES, *WIDE, seed=4)  # every pixel differs: the whole photo is shown
    accepted = {"job_id": job_id, "status": "queued", "status_url": f"/jobs/{job_id}",
                "result_url": f"/jobs/{job_id}/result"}
    # the edit the page posts is answered with that finished job, so it polls the real GET /jobs/{id}
    page.route("**/manipulate?*", lambda route: route.fulfill(status=202, json=accepted))
    page.wait_for_selector('#edit-attributes .chip[data-name="smiling"]')
    page.set_input_files("#edit-file", [{"name": "two.png", "mimeType": "image/png", "buffer": png(*WIDE, seed=3)}])
    page.click('#edit-attributes .chip[data-name="smiling"] .plus')
    page.select_option("#edit-faces", "largest")
    page.click("#edit-run")
    page.wait_for_selector("#faces-overlay:not([hidden])")
    assert page.get_attribute("#stage", "data-view") == "whole"
    outlines = page.locator("#faces-overlay g.face")
    assert outlines.count() == 2
    assert [outlines.nth(index).get_attribute("class") for index in range(2)] == ["face edited", "face unchanged"]
    assert page.eval_on_selector("#faces-overlay .unchanged rect", "rect => getComputedStyle(rect).strokeDasharray")
    stage = page.locator("#stage").bounding_box()
    scale = stage["width"] / WIDE[0]
    for index, face in enumerate(TWO_FACES):  # each outline sits on its face, at the displayed size
        drawn = outlines.nth(index).locator("rect").bounding_box()
        x, y, w, h = face["box"]
        expected = (stage["x"] + x * scale, stage["y"] + y * scale, w * scale, h * scale)
        assert [drawn[key] for key in ("x", "y", "width", "height")] == pytest.approx(expected, abs=3)
    summary = page.text_content("#faces-summary")
    assert summary == ("2 faces found, 1 edited; identity distance face 1: 0.31 (same person under 0.6). "
                       "Face 2: already has every asked attribute; left unchanged.")
    assert "face 2 left unchanged" in page.get_attribute("#faces-overlay", "aria-label")
    assert page.is_visible("#faces-legend")

    page.uncheck("#show-outlines")
    assert page.is_hidden("#faces-overlay")
    page.check("#show-outlines")
    assert page.locator("#faces-overlay g.face").count() == 2
    page.select_option("#edit-crop", "center")
    assert page.is_disabled("#edit-faces")  # only "find the face" looks for faces
    page.set_input_files("#edit-file", image_files("other", 1, 20))
    assert page.is_hidden("#faces-overlay") and page.text_content("#faces-summary") == ""


TUNED = {"positives": 6, "negatives": 6, "cv_accuracy": 0.75, "defaults": {"strength": 1.6},
         "remove_defaults": {"strength": 2.0},
         "examples": {"aligned": 9, "center_fallback": 2, "refused": 1}}


def test_attributes_show_their_examples_framing_and_tuned_strength(page, redis):
    attributes.begin_version(redis, "tuned_ui", "fitting-job", {"positives": 6, "negatives": 6})
    attributes.finish_version(redis, "tuned_ui", "fitting-job", "binary", TUNED, b"", b"{}")
    try:
        page.reload()  # the page listed the attributes when it opened
        page.click("#tab-define")
        page.wait_for_selector('#attribute-table tr[data-name="tuned_ui"]')
        cells = page.eval_on_selector('#attribute-table tr[data-name="tuned_ui"]',
                                      "row => [...row.children].map(cell => cell.textContent)")
        assert "9 aligned · 2 fell back · 1 refused" in cells[3] and cells[6] == "+1.60 / −2.00"
        assert "2 had no face found" in cells[0]
    finally:
        attributes.delete(redis, "tuned_ui")


def test_built_ins_are_described_and_no_accuracy_cell_is_blank(page):
    page.click("#tab-define")
    page.wait_for_selector('#attribute-table tr[data-name="blond_pu"]')
    assert "defined from positive examples only" in page.text_content('#attribute-table tr[data-name="blond_pu"] td')
    for column in (5, 6):  # accuracy and tuned strength
        cells = page.eval_on_selector_all("#attribute-table tr",
                                          f"rows => rows.map(row => row.children[{column}].textContent)")
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
