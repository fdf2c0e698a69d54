"""Retake docs/ui.png: python docs/screenshot.py CHECKPOINT PHOTO (serves CHECKPOINT with make run's launcher and a
Redis of its own in a temporary folder, edits PHOTO with +smiling -eyeglasses in Debian's Chromium, screenshots the
page once the result is shown, zoomed on the edited face)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
PORT = "8765"


def main(checkpoint: str, photo: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    redis_data = tempfile.TemporaryDirectory(prefix="d2c-screenshot-")
    env.update(CHECKPOINT=checkpoint, PORT=PORT, REDIS_DATA_DIR=redis_data.name)
    server = subprocess.Popen([sys.executable, "-m", "service.launch"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{PORT}/"
    try:
        while True:
            try:
                if json.load(urllib.request.urlopen(url + "readyz"))["workers"]:
                    break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as playwright:
            flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(url)
            page.wait_for_selector('#edit-attributes .chip[data-name="smiling"]')
            page.set_input_files("#edit-file", photo)
            page.click('#edit-attributes .chip[data-name="smiling"] .plus')
            page.click('#edit-attributes .chip[data-name="eyeglasses"] .minus')
            page.click("#edit-run")
            page.wait_for_selector("#result-bar:not([hidden])")
            page.screenshot(path=str(ROOT / "docs" / "ui.png"))
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        redis_data.cleanup()


if __name__ == "__main__":
    main(*sys.argv[1:3])
