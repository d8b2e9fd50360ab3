"""Safe decoding of one image (bytes or a path) to an RGB ``uint8`` array.

Everything that reads a cover goes through :func:`decode_image`, so every entry
point (dataset loading, preprocessing, uploads, the downloader) shares one set
of checks and one set of error messages. A cover reaches a model through
:func:`cover_input` alone (preprocessing, ``predict``, Predict, the ONNX server and the
style map's upload), so each of them sees the same pixels for the same file.

    >>> from cover_model.data.images import decode_image
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
import simplejpeg
from PIL import ExifTags, Image, UnidentifiedImageError

from .. import public_mode
from .downsize import downsize

# Formats a cover may come in. Everything else (SVG, HEIC, PSD, ...) is refused.
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "GIF", "MPO"})
USE_INSTEAD = "use JPEG, PNG, WebP, BMP or GIF"
# ISO-BMFF brands (bytes 8-12 of an 'ftyp' box) of photo formats PIL cannot read.
_HEIF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"hevc": "HEIC", b"heim": "HEIC",
                b"heis": "HEIC", b"mif1": "HEIF", b"msf1": "HEIF", b"avif": "AVIF",
                b"avis": "AVIF"}
# Our bomb guard, checked from the header. It is stricter than PIL's own
# (Image.MAX_IMAGE_PIXELS, 89 MP), which stays on for the whole process.
MAX_PIXELS = 50_000_000
MIN_SIDE_PX = 16             # smaller is an icon, not a cover
MAX_ASPECT = 10.0            # a 20000x20 strip is not a cover

# Signatures of the formats we read (and WebP's RIFF): a file that starts with one
# but does not open is damaged, not of an unknown kind.
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
               (b"GIF89a", "GIF"), (b"BM", "BMP"))
_HEADER_BYTES = 1 << 20      # all the header chunks of any sane file
_JPEG_FORMATS = ("JPEG", "MPO")          # MPO: a camera's JPEG with more pictures after it
_TRUNCATED = "truncated or corrupt image data"
# Pixels leave PIL in strips of about this size (see _to_rgb).
_STRIP_BYTES = 4 * 1024**2
# Memory per pixel, for the estimate made before decoding; bench/bench_decode_memory.py
# checks it against the peaks. PIL keeps 1, 2 or 4 bytes a pixel; its WebP decoder
# first decodes into buffers of its own (lossless: about 12 bytes a pixel).
_STORED_BPP = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}
_DECODER_BPP = {"WEBP": 12}
_RGB_BPP = 3                 # the array we return (libjpeg writes it directly)
_OVERHEAD_BYTES = 24 * 1024**2   # strips in flight, decoder state
_PROGRESSIVE_BPP = 6         # a progressive JPEG's coefficients, at full scale (4:4:4)
# Modes Image.reduce takes (not P, 1 or I;16: those are converted first, at full size).
_REDUCIBLE = frozenset({"L", "LA", "La", "RGB", "RGBA", "RGBa", "CMYK", "I"})


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
        raise ImageDecodeError(f"{name}: {_why_unidentified(fp)}") from None
    except Image.DecompressionBombError as exc:   # PIL's own guard (179 MP) fired before ours
        size = _size_past_pil_guard(fp)
        if size:
            _check_size(size, name, limits)       # ours refuses it too: say so in our words
        raise ImageDecodeError(f"{name}: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{name}: corrupt image header ({exc})") from None
    if image.format not in SUPPORTED_FORMATS:
        raise ImageDecodeError(f"{name}: {image.format} images are not supported; {USE_INSTEAD}")
    _check_size(image.size, name, limits)
    return image


def _why_unidentified(fp) -> str:
    """Why PIL could not open ``fp``: damaged data in a format we read, or another kind of file."""
    head = _head(fp, _HEADER_BYTES)
    damaged = _signature_format(head)
    if damaged and damaged != "BMP":              # "BM" alone is too weak to call it damaged
        try:
            _plugin_open(head, damaged).close()
            cause = f"{damaged} header cannot be read"
        except Exception as exc:  # noqa: BLE001 -- the plugin's refusal, whatever it is, is the cause
            cause = f"{damaged}: {exc}"
        return f"{_TRUNCATED} ({cause})"
    kind = _sniff_unsupported(head)
    if kind in ("SVG", "HTML"):
        what = "SVG is vector graphics" if kind == "SVG" else "an HTML page"
        return f"{what}, not an image we can decode; {USE_INSTEAD}"
    if kind:
        return f"{kind} images are not supported; {USE_INSTEAD}"
    return f"not an image (unrecognised file format); {USE_INSTEAD}"


def _size_past_pil_guard(fp) -> tuple[int, int] | None:
    """The size in a header PIL's bomb guard refused (its error gives only a pixel count)."""
    head = _head(fp, _HEADER_BYTES)
    fmt = _signature_format(head)
    try:
        with _plugin_open(head, fmt) as image:
            return image.size
    except Exception:  # noqa: BLE001 -- no size to tell: PIL's own message will do
        return None


def _signature_format(head: bytes) -> str | None:
    """The format we read that ``head`` starts like, or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for signature, fmt in _SIGNATURES if head.startswith(signature)), None)


def _plugin_open(head: bytes, fmt: str | None) -> Image.Image:
    """Open ``head`` with PIL's plugin for ``fmt`` itself. Image.open keeps a plugin's reason
    for refusing to itself, and its bomb guard refuses before telling the size."""
    Image.init()
    return Image.OPEN[fmt][0](io.BytesIO(head), "")


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
        When given, the image may be decoded at a reduced scale (1/2 to 1/8) as
        long as both sides stay at least this many pixels: DCT scaling for a
        JPEG, a box filter just after decoding for the others. Much faster, and
        lighter, when the image is about to be downsized anyway.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8

    Raises
    ------
    ImageDecodeError
        Empty, missing, not an image, unsupported, too large or small, more
        memory to decode than ``public_mode.limits().max_decode_bytes`` (estimated
        from the header), or truncated/corrupt data. The message names the file
        and the cause.

    Examples
    --------
    >>> import io; from PIL import Image
    >>> buf = io.BytesIO(); Image.new("L", (40, 30), 128).save(buf, "PNG")
    >>> decode_image(buf.getvalue()).shape
    (30, 40, 3)
    """
    data, name = _as_bytes(source)
    image = _open(io.BytesIO(data), name, limits)
    try:
        _check_memory(image, name, draft_px)
        rgb = _decode_jpeg(data, image, name, draft_px) if image.format in _JPEG_FORMATS else None
        return rgb if rgb is not None else _decode_with_pil(image, name, draft_px)
    finally:
        image.close()


def cover_pixels(source, size_px: int, *, method: str = "area",
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """One cover as a model's training covers are made: decoded, downsized to ``size_px``.

    Parameters
    ----------
    source : str, Path, bytes or file-like
        The encoded cover (as :func:`decode_image` takes it).
    size_px : int
        The model's input side.
    method : str, default="area"
        The downsizing method (:func:`cover_model.data.downsize.downsize`).
    rng : numpy Generator, optional
        For ``random`` (default: seeded with 0).

    Returns
    -------
    ndarray of shape (size_px, size_px, 3), uint8

    Examples
    --------
    >>> import io; from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (1200, 1200), "red").save(buf, "JPEG")
    >>> cover_pixels(buf.getvalue(), 300).shape
    (300, 300, 3)
    """
    # Reduced-scale decoding (JPEG DCT scaling, 1/2 to 1/8 while both sides stay at least
    # size_px), as every training cover is decoded: a run sees the pixels its training covers
    # had. Measured (bench/bench_upload_decode.py, 748 real test covers re-saved at 1,200 px,
    # shipped model): against a full-size decode the probabilities differ by 0.16 points on
    # average (3.45 at most; top-1 the same for 99.1%), no more than either differs from the
    # 300 px originals the model trained on (0.67 here, 0.70 at full size), and decoding takes
    # 2.3 ms instead of 5.1. The paper's random grid samples the full image's pixels.
    rgb = decode_image(source, draft_px=None if method == "random" else size_px)
    return downsize(rgb, size_px, method=method, rng=rng)


def cover_input(image, *, input_px: int, method: str = "area") -> np.ndarray:
    """A cover as its network takes it: :func:`cover_pixels`, channels first, in [0, 1].

    Parameters
    ----------
    image : bytes, path, file object, or ndarray of shape (H, W, 3), uint8
        An encoded cover; an array is a cover decoded already, and is only downsized
        (an upload goes in encoded, so that it takes the same path as a file).
    input_px : int
        The network's input side.
    method : str, default="area"
        The run's downsizing method.

    Returns
    -------
    ndarray of shape (1, 3, input_px, input_px), float32

    Examples
    --------
    >>> cover_input(np.full((350, 350, 3), 255, np.uint8), input_px=32).max()
    np.float32(1.0)
    """
    rng = np.random.default_rng(0)
    small = (downsize(image, input_px, method=method, rng=rng) if isinstance(image, np.ndarray)
             else cover_pixels(image, input_px, method=method, rng=rng))
    # float32 / 255 rounds exactly as torch's .float().div_(255) did: the two predictors agree.
    return np.ascontiguousarray(small.transpose(2, 0, 1)[None], dtype=np.float32) / 255


def thumbnail(source, size_px: int) -> tuple[np.ndarray, str | None]:
    """A cover to show in a gallery: fit in a ``size_px`` square, and None; or, for
    one that cannot be decoded, a grey square and why (without the file's name).

    Decodes at a reduced scale where it can (``draft_px``), and never raises
    :class:`ImageDecodeError`: a gallery shows what it can.

    >>> import io; from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (400, 200), "red").save(buf, "PNG")
    >>> rgb, why = thumbnail(buf.getvalue(), 120)
    >>> rgb.shape, why
    ((60, 120, 3), None)
    >>> thumbnail(b"not an image", 120)[1]
    'not an image (unrecognised file format); use JPEG, PNG, WebP, BMP or GIF'
    """
    try:
        rgb = decode_image(source, draft_px=size_px)
    except ImageDecodeError as exc:
        reason = str(exc).split(": ", 1)[-1]
        return np.full((size_px, size_px, 3), 210, np.uint8), reason
    height, width = rgb.shape[:2]
    scale = size_px / max(height, width)
    if scale >= 1:
        return rgb, None
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), None


def estimate_decode_bytes(image: Image.Image, draft_px: int | None = None) -> int:
    """The most memory :func:`decode_image` takes for ``image``, from its header alone.

    Parameters
    ----------
    image : PIL.Image.Image
        Opened, not loaded (as :func:`open_image` returns it).
    draft_px : int, optional
        As for :func:`decode_image`: a smaller target decodes at a reduced scale.

    Returns
    -------
    int, bytes: the decoded pixels in the mode PIL keeps them (and its decoder's
    own buffer), the RGB array we return and a turned copy of it (EXIF
    orientation), a progressive JPEG's coefficients.
    """
    width, height = image.size
    full = width * height
    scale = _scale(image.size, draft_px)
    out = -(-width // scale) * -(-height // scale)
    coefficients = full * _PROGRESSIVE_BPP if image.info.get("progressive") else 0
    if image.format in _JPEG_FORMATS and image.mode in ("RGB", "L"):
        return _OVERHEAD_BYTES + coefficients + out * _RGB_BPP * (2 if _orientation(image) != 1 else 1)
    if image.format in _JPEG_FORMATS:
        full = out                                # CMYK: PIL decodes it at the reduced scale
    stored = _STORED_BPP.get(image.mode, 4)
    reduced = out * stored if out < full and image.mode in _REDUCIBLE else 0
    if not reduced:
        out = full
    return _OVERHEAD_BYTES + coefficients + max(
        full * (stored + _DECODER_BPP.get(image.format, 0)),
        full * stored + reduced + out * _RGB_BPP,
        out * _RGB_BPP * 2)                       # a turned copy, once PIL's is freed


def _check_memory(image: Image.Image, name: str, draft_px: int | None) -> None:
    """Refuse, before any pixel is allocated, an image over this server's decoding budget."""
    budget = public_mode.limits().max_decode_bytes
    needed = estimate_decode_bytes(image, draft_px)
    if needed > budget:
        width, height = image.size
        raise ImageDecodeError(
            f"{name}: a {width}x{height} {image.format} takes about {_megabytes(needed)} of memory "
            f"to decode, over the limit of {_megabytes(budget)} per image")


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1024**2:,.0f} MB"


def _scale(size, draft_px: int | None) -> int:
    """The largest of 1, 2, 4, 8 that keeps both sides at least ``draft_px``."""
    scale = 8 if draft_px else 1
    while scale > 1 and min(size) // scale < draft_px:
        scale //= 2
    return scale


def _decode_jpeg(data: bytes, image: Image.Image, name: str, draft_px: int | None) -> np.ndarray | None:
    """An RGB or grayscale JPEG, decoded strictly and turned upright; None leaves a
    CMYK one to PIL once its data is checked.

    Strict, because libjpeg only warns when the data runs out before the last row
    (a cut-off file, even one with its end marker put back, or a header claiming
    more pixels than the file holds) and fills the rest with grey.
    """
    try:
        if image.mode not in ("RGB", "L"):
            simplejpeg.decode_jpeg(data, colorspace="CMYK", min_factor=8, strict=True)
            return None
        scale = _scale(image.size, draft_px)
        width, height = image.size
        rgb = simplejpeg.decode_jpeg(data, colorspace="RGB", min_width=-(-width // scale),
                                     min_height=-(-height // scale), strict=True)
    except ValueError as exc:
        raise ImageDecodeError(f"{name}: {_TRUNCATED} ({exc})") from None
    return _upright(rgb, _orientation(image))


def _decode_with_pil(image: Image.Image, name: str, draft_px: int | None) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # PIL's warnings on odd metadata are noise here
            if draft_px and image.format in _JPEG_FORMATS:      # CMYK
                image.draft("RGB", (draft_px, draft_px))
            image.load()
            orientation = _orientation(image)     # a PNG may give its EXIF after the pixels
            return _upright(_to_rgb(_reduce(image, draft_px)), orientation)
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageDecodeError(f"{name}: {_TRUNCATED} ({exc})") from None
    except Image.DecompressionBombError as exc:       # a GIF frame larger than its header said
        raise ImageDecodeError(f"{name}: {exc}") from None


def _orientation(image: Image.Image) -> int:
    return image.getexif().get(ExifTags.Base.Orientation, 1)


# EXIF orientation -> the view of an (H, W, C) array that shows it upright, as
# ImageOps.exif_transpose turns a PIL image.
_ORIENTATIONS = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2), 6: lambda a: a.transpose(1, 0, 2)[:, ::-1],
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1], 8: lambda a: a.transpose(1, 0, 2)[::-1]}


def _upright(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """``rgb`` turned as its EXIF orientation says (on the array: PIL's copy is freed by now)."""
    turn = _ORIENTATIONS.get(orientation)
    return np.ascontiguousarray(turn(rgb)) if turn else rgb


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
    try:
        if not path.is_file():
            raise ImageDecodeError(f"{name}: no such file")
        empty = path.stat().st_size == 0
    except OSError as exc:                        # a name too long, a folder we may not list
        raise ImageDecodeError(f"{name}: cannot be read ({exc.strerror})") from None
    if empty:
        raise ImageDecodeError(f"{name}: empty file")


def _head(fp, n_bytes: int = 1024) -> bytes:
    """The first bytes of a path or an in-memory file, to name a format PIL does not know."""
    if isinstance(fp, io.BytesIO):
        return fp.getbuffer()[:n_bytes].tobytes()
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


def _reduce(image: Image.Image, draft_px: int | None) -> Image.Image:
    """``image`` shrunk 2, 4 or 8 times by a box filter when ``draft_px`` allows, with
    the full-size one closed: the conversions after it then work on the small one."""
    scale = _scale(image.size, draft_px)
    if scale == 1 or image.mode not in _REDUCIBLE:
        return image
    small = image.reduce(scale)
    image.close()              # its pixels are freed now, not when decode_image returns
    return small


def _to_rgb(image: Image.Image) -> np.ndarray:
    """The RGB pixels of a loaded image, converted a strip at a time; ``image`` is closed.

    In strips, so that no full-size copy is made besides the array returned:
    PIL's own conversions, and np.asarray (through tobytes), would each make one.
    """
    width, height = image.size
    rows = max(1, _STRIP_BYTES // (4 * width))
    if rows >= height:
        rgb = _strip_to_rgb(image)
    else:
        rgb = np.empty((height, width, 3), np.uint8)
        for top in range(0, height, rows):
            rgb[top:top + rows] = _strip_to_rgb(image.crop((0, top, width, min(height, top + rows))))
    image.close()
    return rgb


def _strip_to_rgb(image: Image.Image) -> np.ndarray:
    """RGB ``uint8`` of any mode: 16-bit grayscale rescaled (PIL's convert would clip it at
    255: nearly all white), transparency composited on white."""
    if image.mode.startswith("I"):
        values = np.asarray(image)
        gray = cv2.convertScaleAbs(values.astype(values.dtype.newbyteorder("="), copy=False),
                                   alpha=1 / 257)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
            image.mode == "P" and "transparency" in image.info):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, (0, 0), rgba)               # rgba's alpha is the mask
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
