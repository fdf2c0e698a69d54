"""Retake docs/ui.png: python docs/screenshot.py CHECKPOINT PHOTO (serves CHECKPOINT with make run's launcher and a
Redis of its own in a temporary folder, edits PHOTO with +smiling -eyeglasses in Debian's Chromium, screenshots the
page once the result is shown, zoomed on the edited face)."""
from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.service_attributes import local_service  # importable once the path above is set


def main(checkpoint: str, photo: str) -> None:
    with local_service(checkpoint) as (url, _), sync_playwright() as playwright:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
        page = browser.new_page(viewport={"width": 1280, "height": 760})
        page.goto(url + "/")
        page.wait_for_selector('#edit-attributes .chip[data-name="smiling"]')
        page.set_input_files("#edit-file", photo)
        page.click('#edit-attributes .chip[data-name="smiling"] .plus')
        page.click('#edit-attributes .chip[data-name="eyeglasses"] .minus')
        page.click("#edit-run")
        page.wait_for_selector("#result-bar:not([hidden])")
        page.screenshot(path=str(ROOT / "docs" / "ui.png"))
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
