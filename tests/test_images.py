"""Decoding: every supported mode comes out RGB uint8; every bad input gets a specific error."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cover_model.data.images import ImageDecodeError, ImageLimits, decode_image, open_image


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def gradient(size=(64, 48)) -> Image.Image:
    w, h = size
    x = np.linspace(0, 255, w, dtype=np.uint8)[None, :, None].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.uint8)[:, None, None].repeat(w, 1)
    return Image.fromarray(np.concatenate([x, y, 255 - x], axis=2))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "GIF"])
def test_common_formats_decode_to_rgb_uint8(fmt):
    rgb = decode_image(encode(gradient(), fmt))
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8


def test_path_and_file_object_sources(tmp_path):
    path = tmp_path / "cover.png"
    gradient().save(path)
    from_path = decode_image(path)
    assert np.array_equal(from_path, decode_image(str(path)))
    with open(path, "rb") as fh:
        assert np.array_equal(from_path, decode_image(fh))


def test_grayscale_is_replicated_to_three_channels():
    rgb = decode_image(encode(Image.new("L", (20, 20), 77), "PNG"))
    assert (rgb == 77).all()


def test_palette_with_transparency_is_composited_on_white():
    image = Image.new("P", (20, 20), 0)
    image.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    image.paste(1, (0, 0, 10, 20))
    rgb = decode_image(encode(image, "PNG", transparency=0))
    assert tuple(rgb[5, 15]) == (255, 255, 255)    # transparent red -> white
    assert tuple(rgb[5, 5]) == (0, 0, 255)


def test_rgba_is_composited_on_white():
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    image.paste((200, 10, 10, 255), (0, 0, 10, 20))
    rgb = decode_image(encode(image, "PNG"))
    assert tuple(rgb[0, 15]) == (255, 255, 255)
    assert tuple(rgb[0, 0]) == (200, 10, 10)


def test_half_transparent_pixels_blend_with_white():
    rgb = decode_image(encode(Image.new("RGBA", (20, 20), (0, 0, 0, 128)), "PNG"))
    assert 120 <= rgb[0, 0, 0] <= 135


def test_cmyk_jpeg_converts_to_rgb():
    rgb = decode_image(encode(Image.new("CMYK", (24, 24), (0, 255, 255, 0)), "JPEG"))
    r, g, b = rgb[12, 12].astype(int)
    assert r > 200 and g < 60 and b < 60          # pure magenta+yellow ink = red


def test_sixteen_bit_grayscale_png_keeps_its_range():
    values = np.full((20, 20), 32768, dtype=np.uint16)
    rgb = decode_image(encode(Image.fromarray(values), "PNG"))
    assert 126 <= rgb[0, 0, 0] <= 129                # mid-grey, not clipped to white


def test_sixteen_bit_rgb_png_decodes():
    raw = (np.arange(20 * 20 * 3, dtype=np.uint16).reshape(20, 20, 3) * 50).astype(">u2")
    png = _png_rgb16(raw)
    rgb = decode_image(png)
    assert rgb.shape == (20, 20, 3)
    assert np.allclose(rgb.astype(int), raw.astype(int) >> 8, atol=1)


def _png_rgb16(raw: np.ndarray) -> bytes:
    """PIL cannot write 16-bit RGB PNGs, so write one by hand."""
    h, w, _ = raw.shape
    scanlines = b"".join(b"\x00" + raw[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(scanlines)) + chunk(b"IEND", b""))


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (60, 30), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 30, 30))        # blue on the left half
    exif = Image.Exif()
    exif[0x0112] = 6                                 # rotate 90 degrees clockwise to view
    rgb = decode_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert rgb.shape == (60, 30, 3)
    assert rgb[5, 15, 2] > 200                       # blue is now on top


def test_gif_uses_the_first_frame():
    frames = [Image.new("RGB", (20, 20), c) for c in [(255, 0, 0), (0, 255, 0)]]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    rgb = decode_image(buf.getvalue())
    assert rgb[0, 0, 0] > 200 and rgb[0, 0, 1] < 50


def test_draft_decodes_jpeg_at_reduced_scale():
    data = encode(gradient((400, 400)), "JPEG")
    small = decode_image(data, draft_px=64)
    assert 64 <= small.shape[0] < 128                 # 1/4 scale: 100 px


@pytest.mark.parametrize("payload, cause", [
    (b"", "empty file"),
    (b"hello, this is not an image", "not an image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>", "not an image"),
])
def test_bad_bytes_are_refused_with_the_cause(payload, cause):
    with pytest.raises(ImageDecodeError, match=cause):
        decode_image(payload)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ImageDecodeError, match="no such file"):
        decode_image(tmp_path / "nope.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="empty file"):
        decode_image(tmp_path / "empty.jpg")


def test_truncated_jpeg_is_refused():
    data = encode(gradient((200, 200)), "JPEG")
    with pytest.raises(ImageDecodeError, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2])


def test_png_with_corrupt_data_is_refused():
    data = bytearray(encode(gradient((100, 100)), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 20: idat + 60] = b"\x00" * 40          # garbage inside the compressed stream
    with pytest.raises(ImageDecodeError, match="truncated or corrupt"):
        decode_image(bytes(data))


def test_unsupported_format_is_named():
    data = encode(gradient(), "TIFF")
    with pytest.raises(ImageDecodeError, match="TIFF images are not supported"):
        decode_image(data)


def test_decompression_bomb_is_refused_from_the_header():
    # a 30000x30000 PNG that compresses to a few hundred KB
    bomb = encode(Image.new("1", (30000, 30000), 0), "PNG")
    assert len(bomb) < 1_000_000
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        decode_image(bomb)


def test_pixel_limit_is_configurable():
    data = encode(gradient((100, 100)), "PNG")
    with pytest.raises(ImageDecodeError, match="over the limit of 5,000 pixels"):
        decode_image(data, limits=ImageLimits(max_pixels=5000))


@pytest.mark.parametrize("size, cause", [((1, 1), "too small"), ((20000, 20), "too elongated")])
def test_tiny_and_strip_images_are_refused(size, cause):
    with pytest.raises(ImageDecodeError, match=cause):
        decode_image(encode(Image.new("RGB", size), "PNG"))


def test_open_image_checks_only_the_header():
    data = encode(gradient((200, 200)), "JPEG")
    image = open_image(data[: len(data) // 2])       # truncated, but the header is fine
    assert image.size == (200, 200)


def test_reduced_scale_jpeg_honours_exif_orientation():
    image = Image.new("RGB", (400, 200), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 200, 200))       # blue on the left half
    exif = Image.Exif()
    exif[0x0112] = 6
    rgb = decode_image(encode(image, "JPEG", exif=exif.tobytes()), draft_px=32)
    assert rgb.shape == (100, 50, 3)                  # 1/4 scale, rotated
    assert rgb[10, 25, 2] > 200 and rgb[90, 25, 0] > 200


def test_reduced_scale_matches_full_decode_closely():
    data = encode(gradient((400, 400)), "JPEG", quality=95)
    import cv2
    full = cv2.resize(decode_image(data), (32, 32), interpolation=cv2.INTER_AREA)
    fast = cv2.resize(decode_image(data, draft_px=64), (32, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(full.astype(int) - fast.astype(int)).mean() < 2


def test_truncated_jpeg_is_refused_even_at_reduced_scale():
    data = encode(gradient((400, 400)), "JPEG")
    with pytest.raises(ImageDecodeError, match="truncated or corrupt"):
        decode_image(data[: len(data) * 2 // 3], draft_px=32)


# --- the security probe of issue #15 --------------------------------------------

def test_pil_bomb_guard_stays_on_for_the_whole_process():
    import PIL.Image

    import cover_model.data.images  # noqa: F401 -- importing it must not switch PIL's guard off
    assert PIL.Image.MAX_IMAGE_PIXELS == int(1024 * 1024 * 1024 // 4 // 3)


def test_pil_guard_past_a_callers_own_limit_is_a_clear_refusal():
    bomb = _png_header(14_000, 14_000)                # 196 MP: over twice PIL's 89 MP
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        decode_image(bomb, limits=ImageLimits(max_pixels=10**9))
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        open_image(bomb, limits=ImageLimits(max_pixels=10**9))


def _png_header(width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A PNG header declaring ``width`` x ``height`` pixels, with one row of data."""
    from .bad_inputs import png_header_only
    return png_header_only(width, height, bit_depth=bit_depth, colour_type=colour_type)


@pytest.mark.parametrize("draft_px", [None, 32])
def test_truncated_jpeg_with_its_end_marker_put_back_is_refused(draft_px):
    data = encode(gradient((300, 300)), "JPEG")
    with pytest.raises(ImageDecodeError, match="truncated or corrupt image data"):
        decode_image(data[: len(data) // 3] + b"\xff\xd9", draft_px=draft_px)


def test_jpeg_whose_header_claims_more_pixels_than_it_holds_is_refused():
    from .bad_inputs import lying_jpeg
    data = lying_jpeg(350, claimed_px=7000)
    assert open_image(data).size == (7000, 7000)
    with pytest.raises(ImageDecodeError, match="truncated or corrupt image data"):
        decode_image(data, draft_px=64)


def test_png_whose_header_fails_its_crc_is_corrupt_not_an_unknown_format():
    data = bytearray(encode(gradient(), "PNG"))
    data[29] ^= 0xFF                                   # the last byte of IHDR's CRC
    for call in (decode_image, open_image):
        with pytest.raises(ImageDecodeError) as refused:
            call(bytes(data))
        assert str(refused.value) == ("image: truncated or corrupt image data "
                                      "(PNG: broken PNG file (bad header checksum in b'IHDR'))")


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_every_exif_orientation_turns_as_pil_does(orientation, fmt):
    from PIL import ImageOps
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(gradient((64, 40)), fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    rgb = decode_image(data)
    assert rgb.shape == expected.shape and rgb.flags.c_contiguous
    assert np.abs(rgb.astype(int) - expected).max() <= (0 if fmt == "PNG" else 2)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "I;16"])
def test_draft_reduces_other_formats_after_decoding_too(mode):
    image = gradient((400, 400)).convert("RGBA" if mode == "RGBA" else "RGB")
    if mode in ("L", "I;16"):
        image = image.convert("L")
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image).astype(np.uint16) * 257)
    data = encode(image, "PNG")
    small = decode_image(data, draft_px=64)
    assert small.shape == ((100, 100, 3) if mode != "I;16" else (400, 400, 3))   # I;16: no reduce
    import cv2
    full = cv2.resize(decode_image(data), small.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(full.astype(int) - small.astype(int)).max() <= 1
