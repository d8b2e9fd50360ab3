"""Safe decoding of one image (bytes or a path) to an RGB ``uint8`` array.

Everything that reads a cover goes through :func:`decode_image`, so every entry
point (dataset loading, preprocessing, uploads, the downloader) shares one set
of checks and one set of error messages.

    >>> from cover_model.images import decode_image
    >>> rgb = decode_image("cover.jpg")              # doctest: +SKIP
    >>> rgb.shape, rgb.dtype                         # doctest: +SKIP
    ((350, 350, 3), dtype('uint8'))
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Formats a cover may come in. Everything else (SVG, HEIC, PSD, ...) is refused.
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "GIF", "MPO"})
USE_INSTEAD = "use JPEG, PNG, WebP, BMP or GIF"
# ISO-BMFF brands (bytes 8-12 of an 'ftyp' box) of photo formats PIL cannot read.
_HEIF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"hevc": "HEIC", b"heim": "HEIC",
                b"heis": "HEIC", b"mif1": "HEIF", b"msf1": "HEIF", b"avif": "AVIF",
                b"avis": "AVIF"}
MAX_PIXELS = 50_000_000      # decompression-bomb guard, checked from the header
MIN_SIDE_PX = 16             # smaller is an icon, not a cover
MAX_ASPECT = 10.0            # a 20000x20 strip is not a cover

# OpenCV decodes JPEGs 15-25% faster than PIL, at full scale or at 1/2, 1/4, 1/8.
_CV2_SCALES = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
               4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}

# PIL's own bomb guard warns at MAX_IMAGE_PIXELS and raises at twice that; ours
# is checked first from the header, so PIL's only needs to stay out of the way.
Image.MAX_IMAGE_PIXELS = None


class ImageDecodeError(ValueError):
    """An image could not be used; the message says why, for a user to read."""


@dataclass(frozen=True)
class ImageLimits:
    """Bounds an image must satisfy before it is decoded.

    Parameters
    ----------
    max_pixels : int, default=50_000_000
        Width x height above which the image is refused (decompression bombs).
    min_side_px : int, default=16
        Shortest side below which the image is refused.
    max_aspect : float, default=10.0
        Longest side / shortest side above which the image is refused.
    """
    max_pixels: int = MAX_PIXELS
    min_side_px: int = MIN_SIDE_PX
    max_aspect: float = MAX_ASPECT


DEFAULT_LIMITS = ImageLimits()


def open_image(source, *, limits: ImageLimits = DEFAULT_LIMITS) -> Image.Image:
    """Open an image lazily and check its header; pixels are not decoded yet.

    Cheap (reads the header only), so a dataset can vet thousands of files.

    Parameters
    ----------
    source : str, Path, bytes or file-like
        The image.
    limits : ImageLimits
        Size bounds, checked from the header before any pixel is decoded.

    Returns
    -------
    PIL.Image.Image, not yet loaded.

    Raises
    ------
    ImageDecodeError
        Missing or empty file, unknown or unsupported format, or size out of bounds.
    """
    if isinstance(source, (str, os.PathLike)):   # let PIL read just the header
        name = str(source)
        _check_file(Path(source), name)
        return _open(source, name, limits)
    data, name = _as_bytes(source)
    return _open(io.BytesIO(data), name, limits)


def _open(fp, name: str, limits: ImageLimits) -> Image.Image:
    try:
        image = Image.open(fp)
    except UnidentifiedImageError:
        kind = _sniff_unsupported(_head(fp))
        if kind in ("SVG", "HTML"):
            what = "SVG is vector graphics" if kind == "SVG" else "an HTML page"
            raise ImageDecodeError(f"{name}: {what}, not an image we can decode; {USE_INSTEAD}") from None
        if kind:
            raise ImageDecodeError(f"{name}: {kind} images are not supported; {USE_INSTEAD}") from None
        raise ImageDecodeError(f"{name}: not an image (unrecognised file format); {USE_INSTEAD}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{name}: corrupt image header ({exc})") from None
    if image.format not in SUPPORTED_FORMATS:
        raise ImageDecodeError(f"{name}: {image.format} images are not supported; {USE_INSTEAD}")
    _check_size(image.size, name, limits)
    return image


def decode_image(source, *, limits: ImageLimits = DEFAULT_LIMITS,
                 draft_px: int | None = None) -> np.ndarray:
    """Decode an image to an RGB ``uint8`` array of shape (H, W, 3).

    Handles JPEG, PNG, WebP, BMP and GIF (first frame); grayscale, palette,
    CMYK and 16-bit images; transparency is composited on white; EXIF
    orientation is applied.

    Parameters
    ----------
    source : str, Path, bytes or file-like
        The image.
    limits : ImageLimits
        Size bounds, checked from the header before decoding.
    draft_px : int, optional
        When given, a JPEG may be decoded at a reduced scale (DCT scaling, 1/2
        to 1/8) as long as both sides stay at least this many pixels. Much
        faster when the image is about to be downsized anyway.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8

    Raises
    ------
    ImageDecodeError
        Empty, missing, not an image, unsupported, too large or small, or
        truncated/corrupt data. The message names the file and the cause.

    Examples
    --------
    >>> import io; from PIL import Image
    >>> buf = io.BytesIO(); Image.new("L", (40, 30), 128).save(buf, "PNG")
    >>> decode_image(buf.getvalue()).shape
    (30, 40, 3)
    """
    data, name = _as_bytes(source)
    image = _open(io.BytesIO(data), name, limits)
    if image.format == "JPEG" and image.mode in ("RGB", "L"):
        rgb = _decode_jpeg_with_opencv(data, image.size, draft_px)
        if rgb is not None:
            return rgb
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # PIL's warnings on odd metadata are noise here
            if draft_px and image.format == "JPEG":      # CMYK, or a JPEG OpenCV refused
                image.draft("RGB", (draft_px, draft_px))
            image.load()
            return _to_rgb(ImageOps.exif_transpose(image))
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageDecodeError(f"{name}: truncated or corrupt image data ({exc})") from None
    finally:
        image.close()


def _decode_jpeg_with_opencv(data: bytes, size, draft_px: int | None) -> np.ndarray | None:
    """Decode an RGB or grayscale JPEG with OpenCV (EXIF orientation applied), or
    return None to leave it to PIL.

    libjpeg only warns on a truncated file and fills the rest with grey, so
    a file that does not end in an EOI marker goes to PIL, which refuses it.
    """
    if b"\xff\xd9" not in data[-64:]:
        return None
    scale = 8 if draft_px else 1
    while scale > 1 and min(size) // scale < draft_px:
        scale //= 2
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), _CV2_SCALES[scale])
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _as_bytes(source) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "image"
    elif isinstance(source, (str, os.PathLike)):
        name = str(source)
        _check_file(Path(source), name)
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise ImageDecodeError(f"{name}: cannot be read ({exc.strerror})") from None
    elif hasattr(source, "read"):
        data, name = source.read(), getattr(source, "name", None) or "image"
    else:
        raise TypeError(f"expected a path, bytes or a file object, got {type(source).__name__}")
    if not data:
        raise ImageDecodeError(f"{name}: empty file")
    return data, name


def _check_file(path: Path, name: str) -> None:
    if not path.is_file():
        raise ImageDecodeError(f"{name}: no such file")
    if path.stat().st_size == 0:
        raise ImageDecodeError(f"{name}: empty file")


def _head(fp, n_bytes: int = 1024) -> bytes:
    """The first bytes of a path or an in-memory file, to name a format PIL does not know."""
    if isinstance(fp, io.BytesIO):
        return fp.getvalue()[:n_bytes]
    try:
        with open(fp, "rb") as fh:
            return fh.read(n_bytes)
    except OSError:
        return b""


def _sniff_unsupported(head: bytes) -> str | None:
    """Name a common format we do not read (SVG, HEIC/HEIF/AVIF, PDF, HTML), or None."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "SVG"
    if head[4:8] == b"ftyp":
        return _HEIF_BRANDS.get(head[8:12], None)
    if head.startswith(b"%PDF"):
        return "PDF"
    if text.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    return None


def _check_size(size, name: str, limits: ImageLimits) -> None:
    width, height = size
    if width * height > limits.max_pixels:
        raise ImageDecodeError(
            f"{name}: {width}x{height} pixels is over the limit of "
            f"{limits.max_pixels:,} pixels (possible decompression bomb)")
    if min(width, height) < limits.min_side_px:
        raise ImageDecodeError(
            f"{name}: {width}x{height} is too small (sides must be at least "
            f"{limits.min_side_px} px)")
    if max(width, height) > limits.max_aspect * min(width, height):
        raise ImageDecodeError(
            f"{name}: {width}x{height} is too elongated for a cover "
            f"(aspect ratio above {limits.max_aspect:g}:1)")


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode.startswith("I"):
        return _sixteen_bit_to_rgb(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
        canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(canvas, image)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _sixteen_bit_to_rgb(image: Image.Image) -> np.ndarray:
    # 16-bit grayscale PNGs open as mode I or I;16, and PIL's convert("RGB")
    # clips them at 255 (nearly all white); rescale 0..65535 to 0..255 instead.
    values = np.asarray(image, dtype=np.float64)
    gray = np.clip(values / 257.0 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)
