"""The decoding budget (issue #15): memory to decode one image, estimated from its header.

An image whose decode would take more than ``hosting.limits().max_decode_bytes``
(400 MB in public mode, 2 GB locally) is refused before any pixel is allocated;
whatever is accepted stays within the estimate, so three visitors decoding at
once stay under 1.5 GB. The figures below come from
``bench/bench_decode_memory.py`` (public mode, this project's allocator settings,
Pillow 13, simplejpeg 1.9); the tests in tests/test_bad_inputs.py send the
corpus's memory bomb through the CLI, the Predict page and datasets.

Peak resident memory growth, three decodes at once of the worst files at the
50 MP pixel limit (one decode at a time in brackets), before -> after this budget:

==============================  ================  ==============================
file (7070x7070 unless noted)   before            after
==============================  ================  ==============================
16-bit grayscale PNG (0.4 MB)   3,830 (1,384) MB  718 (250) MB
RGBA PNG                        2,399 (1,049) MB  1,034 (348) MB
RGB PNG                         2,360 (859) MB    782 (344) MB
palette PNG, transparent        2,468 (906) MB    613 (207) MB
progressive JPEG, 4:4:4         1,097 (432) MB    refused: 453 MB estimated
 same at 6618x6618              962 (379) MB      1,074 (377) MB, largest accepted
JPEG, EXIF-turned               726 (291) MB      847 (287) MB
JPEG whose header lies (75 kB)  727 (290) MB      353 (144) MB, then refused (strict)
RGBA WebP, lossless (38 bytes)  4,101 (1,434) MB  refused: 787 MB estimated
 same at 4964x4964              2,048 (709) MB    1,086 (380) MB, largest accepted
GIF, transparent                2,488 (906) MB    548 (205) MB
BMP, 24-bit (143 MB)            2,445 (859) MB    923 (344) MB
==============================  ================  ==============================
"""
import io
import sys

import pytest
from PIL import Image

from cover_model.data.images import ImageDecodeError, decode_image, estimate_decode_bytes, open_image
from cover_model.paths import PROJECT_ROOT
from cover_model.public_mode import PUBLIC

from .bad_inputs import lying_jpeg, png_header_only, webp_header

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import bench_decode_memory as bench  # noqa: E402

MB = 1024**2

# One decode at a time (bench_decode_memory.py --threads 1): (kind, side, peak growth in MB).
MEASURED_PEAKS = [
    ("png_16bit_gray", 7070, 250), ("png_rgba", 7070, 348), ("png_rgb", 7070, 344),
    ("png_palette_transparent", 7070, 207), ("jpeg_progressive_444", 6618, 377),
    ("jpeg_exif_turned", 7070, 287), ("jpeg_header_lies", 7070, 144),
    ("webp_rgba_lossless", 4964, 380), ("gif_transparent", 7070, 205), ("bmp_rgb", 7070, 344)]


@pytest.mark.parametrize("kind, side, peak_mb", MEASURED_PEAKS)
def test_the_estimate_covers_the_measured_peak(kind, side, peak_mb):
    image = Image.open(io.BytesIO(bench.KINDS[kind](64)))
    image._size = (side, side)                   # the estimate reads only the header's fields
    assert estimate_decode_bytes(image) >= peak_mb * MB


def test_three_decodes_at_once_of_the_largest_accepted_image_stay_under_1_5_gb(tmp_path):
    # The worst file of the bench: the largest lossless WebP public mode accepts.
    side = bench.largest_accepted_side("webp_rgba_lossless", PUBLIC.max_decode_bytes, None)
    path = tmp_path / "largest.webp"
    path.write_bytes(bench.KINDS["webp_rgba_lossless"](side))
    measured = bench.measure(path, None, None, n_threads=3)
    assert measured["outcome"] == f"shape ({side}, {side}, 3)"
    assert measured["grew_mb"] < 1500
    assert measured["grew_mb"] <= 3 * measured["estimate_mb"]


@pytest.mark.parametrize("make, draft_px, budget_mb, estimate_mb", [
    (lambda: png_header_only(7070, 7070, bit_depth=16, colour_type=0), 32, 200, 310),  # the probe's
    (lambda: lying_jpeg(64, claimed_px=7070, progressive=True), None, 400, 453),
    (lambda: webp_header(7070), 32, 400, 787),
])
def test_over_budget_is_refused_before_any_pixel_is_decoded(make, draft_px, budget_mb, estimate_mb,
                                                            monkeypatch, tmp_path):
    import simplejpeg
    path = tmp_path / "big"
    path.write_bytes(make())

    def no_decoding(*args, **kwargs):
        raise AssertionError("an image over budget reached the decoder")
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr(simplejpeg, "decode_jpeg", no_decoding)
    monkeypatch.setenv("COVER_LAB_MAX_DECODE_BYTES", str(budget_mb * MB))
    for source, name in ((path, str(path)), (path.read_bytes(), "image")):
        with pytest.raises(ImageDecodeError) as refused:
            decode_image(source, draft_px=draft_px)
        width, height = open_image(source).size
        assert str(refused.value) == (
            f"{name}: a {width}x{height} {open_image(source).format} takes about {estimate_mb} MB "
            f"of memory to decode, over the limit of {budget_mb} MB per image")


def test_the_budget_is_read_when_decoding_public_or_local(monkeypatch):
    webp = bench.KINDS["webp_rgba_lossless"](4000)      # 4000^2 x 16 bytes: 268 MB to decode
    assert decode_image(webp).shape == (4000, 4000, 3)              # local: 2 GB
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    assert decode_image(webp).shape == (4000, 4000, 3)              # public: 400 MB
    monkeypatch.setenv("COVER_LAB_MAX_DECODE_BYTES", str(100 * MB))
    with pytest.raises(ImageDecodeError, match="over the limit of 100 MB per image"):
        decode_image(webp)


def test_a_small_target_lowers_the_estimate_where_decoding_shrinks():
    jpeg = Image.open(io.BytesIO(bench.KINDS["jpeg_exif_turned"](64)))
    jpeg._size = (6400, 6400)
    png = Image.open(io.BytesIO(bench.KINDS["png_rgba"](64)))
    png._size = (6400, 6400)
    assert estimate_decode_bytes(jpeg, 100) < estimate_decode_bytes(jpeg) / 5    # DCT scaling: 1/8
    assert estimate_decode_bytes(png, 100) < estimate_decode_bytes(png) * 0.7     # reduced after load
