"""Hostile uploads and parameters, all made here in memory: each gets a 4xx JSON error saying what was wrong,
the worker keeps running, and nothing is written to disk (uploads live only in Redis)."""
from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from contract import jobs
from contract.payloads import Condition, ManipulatePayload
from tests.api_calls import files, poll, post_photo
from tests.images import encoded, flat_lossless_webp, fuzzed_webps, malformed_pngs, picture, pillow_opens, png


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header claims width x height RGB pixels; only a few rows of zeros are actually stored."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(bytes((width * 3 + 1) * 8), 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def animated(format: str) -> bytes:
    first = picture(40, 40, seed=1)
    return encoded(first, format, save_all=True, append_images=[first.rotate(90)])


def exif_heavy_png() -> bytes:
    return encoded(picture(40, 40), "PNG", exif=b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08" + bytes(150_000))


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def understated_zip_bomb() -> bytes:
    """One member whose header says 100 bytes but whose data inflates to 20 MB."""
    archive = bytearray(zip_of({"labels.csv": b"bomb.png,1\n", "bomb.png": bytes(20_000_000)}))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        start = archive.find(signature, archive.find(b"bomb.png") - 60 if signature == b"PK\x03\x04" else 0)
        while start != -1:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if archive[name_at:name_at + 8] == b"bomb.png":
                archive[start + offset:start + offset + 4] = struct.pack("<I", 100)
            start = archive.find(signature, start + 4)
    return bytes(archive)


@pytest.fixture()
def no_files_written(tmp_path, monkeypatch):
    """Run from an empty folder two levels down; afterwards nothing may exist there or above it in tmp_path."""
    working = tmp_path / "a" / "b"
    working.mkdir(parents=True)
    monkeypatch.chdir(working)
    yield
    assert sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*")) == ["a", "a/b"]


@pytest.mark.parametrize("data, status, fragment", [
    (b"%PDF-1.7 not an image at all", 422, "not a JPEG, PNG or WebP"),
    (encoded(picture(64, 64), "JPEG")[:-400], 422, "corrupt or truncated"),
    (encoded(picture(64, 64), "PNG")[:-100], 422, "corrupt or truncated"),
    (b"", 422, "empty"),
    (encoded(picture(1, 1)), 422, "at least 8x8"),
    (png_bomb(), 413, "pixels"),
    (animated("GIF"), 422, "not a JPEG, PNG or WebP"),
    (animated("WEBP"), 422, "animated"),
    (animated("PNG"), 422, "animated"),
    (exif_heavy_png(), 422, "EXIF"),
])
def test_hostile_images_are_refused_with_a_reason(client, no_files_written, data, status, fragment):
    response = post_photo(client, data, {"attr": "smiling", "crop": "none"}, "../../x.png")
    assert response.status_code == status, response.text
    assert fragment in response.json()["detail"]


MALFORMED = {**malformed_pngs(), **{f"fuzzed_webp_{index}": data
                                    for index, data in enumerate(fuzzed_webps()) if not pillow_opens(data)}}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_headers_are_a_json_422_on_every_upload(client, no_files_written, name):
    edit = post_photo(client, MALFORMED[name], {"attr": "smiling", "crop": "none"}, "m.png")
    assert edit.status_code == 422, edit.text
    assert edit.json()["detail"].startswith("image ")
    examples = [("positive", ("m.png", MALFORMED[name], "image/png"))] + files("positive", 5)
    definition = client.post("/attributes", data={"name": "malformed"}, files=examples)
    assert definition.status_code == 422, definition.text
    assert "positive file 'm.png'" in definition.json()["detail"]


def test_a_tiny_file_that_decodes_huge_is_refused_by_the_api_and_the_worker(client, redis, settings):
    bomb = flat_lossless_webp(1000, 1000)  # 86 bytes; 1,000,000 pixels passes MAX_UPLOAD_PIXELS; 3 MB decoded
    response = post_photo(client, bomb, {"attr": "smiling", "crop": "none"}, "bomb.webp")
    assert response.status_code == 413, response.text
    assert "3000000 bytes once decoded; the limit is 2000000" in response.json()["detail"]
    # a job queued around the API (straight into Redis) is refused by the worker under the same bound
    upload = jobs.store_upload(redis, bomb, settings)
    payload = ManipulatePayload(upload=upload, conditions=[Condition("smiling", True)], crop="none")
    job_id = jobs.enqueue(redis, settings, payload).id
    status = poll(client, job_id)
    assert status["status"] == "failed" and "once decoded" in status["error"], status
    assert jobs.fetch(redis, job_id).meta["error_status"] == 413 and redis.exists(payload.upload) == 0


def test_two_image_fields_are_a_422(client):
    photos = [("image", ("a.png", png(seed=1), "image/png")), ("image", ("b.png", png(seed=2), "image/png"))]
    response = client.post("/manipulate", params={"attr": "smiling"}, files=photos)
    assert response.status_code == 422 and "one `image` file, not 2" in response.json()["detail"]


def test_a_422_for_a_non_file_image_does_not_echo_the_value(client):
    value = "echo-me-" * 18_000  # 144 KB, under the part limit
    response = client.post("/manipulate", params={"attr": "smiling"}, data={"image": value})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "image"]
    assert "echo-me-" not in response.text and len(response.content) < 1000


def test_a_50_mb_body_is_refused(client, no_files_written):
    response = post_photo(client, b"\x89PNG\r\n\x1a\n" + bytes(50 * 1024 * 1024), {"attr": "smiling"})
    assert response.status_code == 413 and "limit" in response.json()["detail"]


def test_malformed_exif_is_ignored_and_the_edit_still_runs(client):
    garbage = b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + bytes(60_000)
    photo = encoded(picture(40, 40), "JPEG", exif=garbage)
    response = post_photo(client, photo, {"attr": "smiling", "crop": "none"}, "e.jpg")
    assert response.status_code == 202, response.text
    assert poll(client, response.json()["job_id"])["status"] == "finished"


@pytest.mark.parametrize("path, params, fragment", [
    ("/manipulate", {"attr": "smiling", "strength": "nan"}, "strength"),
    ("/manipulate", {"attr": "smiling", "strength": "inf"}, "strength"),
    ("/manipulate", {"attr": "smiling", "strength": -0.5}, "strength"),
    ("/manipulate", {"attr": "x" * 10_000}, "not an attribute name"),
    ("/manipulate", {"attr": "smiling\n"}, "not an attribute name"),
    ("/manipulate", {"attr": "ｓｍｉｌｉｎｇ"}, "not an attribute name"),
    ("/generate", {"attr": "smiling", "n": 0}, "n"),
    ("/generate", {"attr": "smiling", "n": 10**6}, "n"),
    ("/generate", {"attr": "Smiling"}, "not an attribute name"),
])
def test_hostile_parameters_are_422(client, path, params, fragment):
    files = {"image": ("p.png", png(), "image/png")} if path == "/manipulate" else None
    response = client.post(path, params=params, files=files)
    assert response.status_code == 422, response.text
    assert fragment in response.text


@pytest.mark.parametrize("name", ["x" * 10_000, "smiling\n", " smiling", "SMILING", "ｓｍｉｌｉｎｇ",
                                  "smi\u200bling", "café", "../../etc"])
def test_overlong_and_unicode_attribute_names_are_refused(client, name):
    positives = [("positive", (f"{i}.png", png(seed=i), "image/png")) for i in range(5)]
    response = client.post("/attributes", data={"name": name}, files=positives)
    assert response.status_code == 422 and "must match" in response.json()["detail"]


@pytest.mark.parametrize("archive, status, fragment", [
    (zip_of({"labels.csv": b"../../x.png,1\n", "../../x.png": png()}), 422, "unsafe"),
    (zip_of({"labels.csv": b"/tmp/x.png,1\n", "/tmp/x.png": png()}), 422, "unsafe"),
    (zip_of({"labels.csv": b"ok.png,1\n", "ok.png": png(), "../../evil.sh": b"#!/bin/sh"}), 422, "unsafe"),
    (understated_zip_bomb(), 422, "cannot be read"),
    (zip_of({"labels.csv": "".join(f"{i}.png,1\n" for i in range(10_000)).encode()}), 413, "10000 examples"),
    (zip_of({"labels.csv": b"0.png,1\n", **{f"{i}.png": b"x" for i in range(10_000)}}), 413, "10001 files"),
])
def test_hostile_example_zips_are_refused(client, no_files_written, archive, status, fragment):
    response = client.post("/attributes", data={"name": "from_hostile_zip"},
                           files={"examples": ("e.zip", archive, "application/zip")})
    assert response.status_code == status, response.text
    assert fragment in response.json()["detail"]
    assert client.get("/attributes/from_hostile_zip").status_code == 404  # refused before anything was recorded


def test_ten_thousand_example_files_are_refused(client, no_files_written):
    tiny = encoded(picture(8, 8))
    files = [("positive", (f"../{index}.png", tiny, "image/png")) for index in range(10_000)]
    response = client.post("/attributes", data={"name": "ten_thousand"}, files=files)
    assert response.status_code in (400, 413), response.text
    assert "files" in response.json()["detail"] or "limit" in response.json()["detail"]


def test_the_worker_survived_every_hostile_input(client, worker):
    assert worker.poll() is None
    response = post_photo(client, png(seed=11), {"attr": "smiling", "crop": "none", "wait": 60})
    assert response.status_code == 200, response.text
