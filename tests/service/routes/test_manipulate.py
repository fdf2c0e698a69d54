"""POST /manipulate: async and ?wait=, crops, which faces, attribute conditions, and every refused input."""
from __future__ import annotations

import pytest

from contract import jobs
from contract.payloads import ManipulatePayload
from service.routes.manipulate import finished_response
from tests.api_calls import poll, post_photo
from tests.images import decoded, encoded, face_photo, picture, png
from tests.service.finished_jobs import TWO_FACES, edit_with_faces


def test_async_job_finishes_with_a_png_of_the_original_size(client):
    response = post_photo(client, png(60, 44), {"attr": "smiling", "crop": "center"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"job_id", "status", "status_url", "result_url"}
    assert poll(client, body["job_id"])["status"] == "finished"
    result = client.get(body["result_url"])
    assert result.status_code == 200 and result.headers["content-type"] == "image/png"
    assert decoded(result.content).size == (60, 44)


def test_wait_returns_the_png_directly(client):
    params = {"attr": ["smiling", "-blond_pu"], "crop": "none", "wait": 60, "strength": 2}
    response = post_photo(client, png(40, 40, seed=3), params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert decoded(response.content).size == (40, 40)


def test_edit_changes_the_photo_and_strength_zero_keeps_it(client):
    original = png(32, 32, seed=5)
    kept = post_photo(client, original, {"attr": "smiling", "crop": "none", "wait": 60, "strength": 0})
    edited = post_photo(client, original, {"attr": "smiling", "crop": "none", "wait": 60, "strength": 5})
    assert kept.status_code == edited.status_code == 200
    assert decoded(kept.content).tobytes() == decoded(original).tobytes()
    assert decoded(edited.content).tobytes() != decoded(original).tobytes()


@pytest.mark.parametrize("params, queued", [({}, "all"), ({"faces": "largest"}, "largest"), ({"faces": "all"}, "all")])
def test_the_faces_choice_reaches_the_job(client, redis, params, queued):
    response = post_photo(client, png(), {"attr": "smiling", "crop": "face", **params})
    assert response.status_code == 202, response.text
    queued_arguments = jobs.fetch(redis, response.json()["job_id"]).kwargs
    assert ManipulatePayload.model_validate(queued_arguments).faces == queued


def test_the_waited_png_counts_the_faces_found_and_changed(client, redis):
    response = finished_response(redis, jobs.status(redis, edit_with_faces(redis, TWO_FACES, 160, 60)))
    assert response.media_type == "image/png"
    assert response.headers["X-Faces-Found"] == "2" and response.headers["X-Faces-Changed"] == "1"
    older = finished_response(redis, jobs.status(redis, edit_with_faces(redis, None, 40, 40)))
    assert "X-Faces-Found" not in older.headers and "X-Faces-Changed" not in older.headers


def test_face_crop_edits_inside_the_face_and_keeps_the_rest(client):
    photo = face_photo()
    if photo is None:
        pytest.skip("needs ../shared/data/celeba64 for a real face photo")
    response = post_photo(client, photo, {"attr": "smiling", "crop": "face", "wait": 60, "strength": 5}, "face.jpg")
    assert response.status_code == 200, response.text
    before, after = decoded(photo).convert("RGB"), decoded(response.content).convert("RGB")
    assert after.size == before.size
    corner = (0, 0, 60, 60)  # background far from the face: the soft blend must leave it untouched
    assert after.crop(corner).tobytes() == before.crop(corner).tobytes()
    assert after.tobytes() != before.tobytes()
    assert response.headers["X-Faces-Found"] == "1" and response.headers["X-Faces-Changed"] == "1"
    [found] = client.get(f"/jobs/{response.headers['X-Job-Id']}").json()["faces"]
    x, y, width, height = found["box"]  # the face was pasted at (80, 40), 256 px wide
    assert found["aligned"] and found["changed"] and 60 < x + width / 2 - 80 < 196 and 20 < y + height / 2 - 40 < 236


def test_no_face_is_a_422_saying_so(client):
    response = post_photo(client, png(64, 64, seed=9), {"attr": "smiling", "crop": "face", "wait": 60})
    assert response.status_code == 422
    assert "no face" in response.json()["detail"]
    assert response.json()["status"] == "failed"


def test_exif_orientation_is_honoured(client):
    image = picture(50, 30, seed=4)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    params = {"attr": "smiling", "crop": "none", "wait": 60}
    response = post_photo(client, encoded(image, "JPEG", exif=exif), params, "r.jpg")
    assert response.status_code == 200, response.text
    assert decoded(response.content).size == (30, 50)


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "CMYK", "I;16"])
def test_unusual_modes_are_converted(client, mode):
    image = picture(36, 36, seed=6, mode="RGB" if mode == "I;16" else mode)
    if mode == "I;16":
        image = image.convert("L").convert("I").point(lambda value: value * 256).convert("I;16")
    data = encoded(image, "JPEG" if mode == "CMYK" else "PNG")
    response = post_photo(client, data, {"attr": "smiling", "crop": "none", "wait": 60})
    assert response.status_code == 200, response.text
    assert decoded(response.content).mode == "RGB"


def test_webp_is_accepted(client):
    webp = encoded(picture(40, 40, seed=8), "WEBP")
    response = post_photo(client, webp, {"attr": "smiling", "crop": "center"}, "x.webp")
    assert response.status_code == 202, response.text


def test_unknown_attribute_is_a_404_naming_the_known_ones(client):
    response = post_photo(client, png(), {"attr": "wings"})
    assert response.status_code == 404
    assert "wings" in response.json()["detail"] and "smiling" in response.json()["detail"]


@pytest.mark.parametrize("params, fragment", [
    ({"attr": "Not A Name"}, "not an attribute name"),
    ({"attr": ["smiling", "-smiling"]}, "both"),
    ({"attr": "smiling", "strength": -1}, "strength"),
    ({"attr": "smiling", "crop": "square"}, "crop"),
    ({"attr": "smiling", "faces": "both"}, "faces"),
    ({"attr": "smiling", "faces": "ALL"}, "'all' or 'largest'"),
    ({"attr": "smiling", "wait": 10_000}, "wait"),
    ({}, "attr"),
])
def test_bad_parameters_are_422(client, params, fragment):
    response = post_photo(client, png(), params)
    assert response.status_code == 422
    assert fragment in response.text


def test_missing_image_is_422(client):
    response = client.post("/manipulate", params={"attr": "smiling"})
    assert response.status_code == 422 and "image" in response.text


@pytest.mark.parametrize("data, status, fragment", [
    (b"", 422, "empty"),
    (b"GIF89a not really", 422, "not a JPEG, PNG or WebP"),
    (encoded(picture(40, 40), "GIF"), 422, "not a JPEG, PNG or WebP"),
    (encoded(picture(40, 40), "PNG")[:-40], 422, "corrupt or truncated"),
    (b"\x89PNG" + bytes(300_000), 413, "limit"),
    (encoded(picture(1200, 1000), "JPEG", quality=5), 413, "pixels"),
    (encoded(picture(4, 4)), 422, "at least 8x8"),
])
def test_bad_images_are_refused_with_a_reason(client, data, status, fragment):
    response = post_photo(client, data, {"attr": "smiling"})
    assert response.status_code == status, response.text
    assert fragment in response.json()["detail"]


def test_an_oversized_request_body_is_refused_before_it_is_read(client):
    limit = client.app.state.settings.max_request_bytes
    headers = {"content-length": str(limit + 1), "content-type": "multipart/form-data; boundary=x"}
    response = client.post("/manipulate", params={"attr": "smiling"}, content=b"x", headers=headers)
    assert response.status_code == 413 and "request body" in response.json()["detail"]
