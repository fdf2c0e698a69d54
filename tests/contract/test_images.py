"""Image checks in-process: limits by decoded size read from the header, every Pillow error on a malformed file an
UploadUnreadable, and the API's check decodes no PNG or WebP."""
from __future__ import annotations

import pytest
from PIL import ImageFile

from contract.errors import UploadError, UploadTooLarge, UploadUnreadable
from contract.images import decode_upload, inspect_upload
from contract.settings import SharedSettings
from tests.images import encoded, flat_lossless_webp, fuzzed_webps, malformed_pngs, picture, png

SETTINGS = SharedSettings(max_upload_bytes=200_000, max_upload_pixels=1_000_000, max_upload_decoded_bytes=2_000_000)


@pytest.mark.parametrize("check", [inspect_upload, decode_upload])
def test_the_decoded_size_is_refused_from_the_header(check):
    bomb = flat_lossless_webp(1000, 1000)  # 86 bytes, 1,000,000 pixels (at the pixel limit), 3 MB decoded (RGB)
    with pytest.raises(UploadTooLarge, match="3000000 bytes once decoded; the limit is 2000000"):
        check(bomb, SETTINGS)


@pytest.mark.parametrize("check", [inspect_upload, decode_upload])
@pytest.mark.parametrize("name", sorted(malformed_pngs()))
def test_malformed_png_headers_are_unreadable_uploads(check, name):
    with pytest.raises(UploadUnreadable):
        check(malformed_pngs()[name], SETTINGS)


@pytest.mark.parametrize("check", [inspect_upload, decode_upload])
def test_fuzzed_webps_either_pass_or_are_refused(check):
    refused = 0
    for data in fuzzed_webps():
        try:
            check(data, SETTINGS)
        except UploadError:
            refused += 1
    assert refused > 0


def test_the_api_check_decodes_no_png_or_webp(monkeypatch):
    def no_decoding(image):
        raise AssertionError(f"{image.format} decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for data in (png(64, 48), encoded(picture(64, 48), "WEBP"), encoded(picture(64, 48), "WEBP", lossless=True)):
        assert (inspect_upload(data, SETTINGS).width, inspect_upload(data, SETTINGS).height) == (64, 48)


def test_a_truncated_png_is_still_found_without_decoding_it():
    with pytest.raises(UploadUnreadable, match="corrupt or truncated"):
        inspect_upload(png(64, 48)[:-30], SETTINGS)
