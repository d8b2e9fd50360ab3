"""The bad-input corpus (issue 8): every case generated here, no checked-in binaries.

    python -m tests.bad_inputs OUT_DIR       # write the corpus somewhere to look at it

:func:`write_corpus` writes each case into a folder and returns a :class:`Case`
per name, saying what it is and what a user must see: for a refused input a
fragment of the message, for an accepted one the shape it decodes to. Its kind
(image, zip, manifest, run folder, config) says which entry points take it.
``tests/test_bad_inputs.py`` pushes each case through the Python API, the CLI
and the dashboard's uploaders.
"""
from __future__ import annotations

import io
import json
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ZIP_BOMB_BYTES = 50 * 1024**2         # 50 MB of zeros squeezes into ~50 kB (about 1000:1)
BOMB_SIDE_PX = 40_000                 # 1.6 gigapixels, declared in a ~200-byte PNG
MEMORY_BOMB_SIDE_PX = 7070            # 50 MP, within the pixel limit, in a 44-byte WebP
# The corpus is judged under public mode's decoding budget (COVER_LAB_MAX_DECODE_BYTES):
# a local user's 2 GB would decode the WebP above.
DECODE_BUDGET_BYTES = 400 * 1024**2
EXPLOIT_MARKER = "PWNED"              # beside the run folders: exists only if a pickle ran


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes
    ----------
    name : str
        Short id, used in test ids and the table in docs/reliability.md.
    kind : str
        ``image``, ``zip``, ``manifest``, ``run`` (a run folder) or ``config``.
    path : Path
        The file or folder (``config``: a JSON request with the settings).
    what : str
        The case in words, for the table in docs/reliability.md.
    message : str or None
        A fragment every refusal message must contain; None when accepted.
    decoded_shape : tuple, optional
        For an accepted image: the (H, W, 3) array it decodes to.
    """
    name: str
    kind: str
    path: Path
    what: str
    message: str | None = None
    decoded_shape: tuple | None = None

    @property
    def accepted(self) -> bool:
        return self.message is None


def write_corpus(root: Path) -> dict[str, Case]:
    """Write every case under ``root`` (created); return them by name, in a fixed order."""
    root = Path(root)
    for sub in ("images", "zips", "manifest", "two-genres", "runs", "configs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    cases = [*_image_cases(root / "images"), *_zip_cases(root / "zips"),
             _manifest_case(root / "manifest"), _two_genres_case(root / "two-genres"),
             *_run_cases(root / "runs"),
             _config_case(root / "configs")]
    return {case.name: case for case in cases}


def image_cases(cases: dict[str, Case], *, accepted: bool | None = None) -> list[Case]:
    """The image cases, optionally only the accepted (or only the refused) ones."""
    return [c for c in cases.values()
            if c.kind == "image" and (accepted is None or c.accepted == accepted)]


# --- images ------------------------------------------------------------------

def _image_cases(folder: Path) -> list[Case]:
    def write(name: str, data: bytes) -> Path:
        (folder / name).write_bytes(data)
        return folder / name

    cover = _noise(96, 96)
    return [
        Case("empty", "image", write("empty.jpg", b""), "an empty file", "empty file"),
        Case("text_as_jpg", "image", write("notes.jpg", b"Side A: 1. Intro 2. Outro\n" * 20),
             "a text file named .jpg", "not an image"),
        Case("truncated_jpeg", "image", write("truncated.jpg", _encode(cover, "JPEG")[:700]),
             "a JPEG cut off part-way", "truncated or corrupt"),
        Case("truncated_jpeg_with_end", "image",
             write("truncated_end.jpg", _encode(cover, "JPEG")[:700] + b"\xff\xd9"),
             "a JPEG cut off part-way, its end marker put back", "truncated or corrupt image data"),
        Case("jpeg_header_lies", "image", write("lying.jpg", lying_jpeg(350, claimed_px=7000)),
             "a 350x350 JPEG whose header says 7000x7000", "truncated or corrupt image data"),
        Case("png_bad_crc", "image", write("bad_crc.png", _png_with_bad_crc(cover)),
             "a PNG whose data fails its CRC", "corrupt"),
        Case("png_bad_header_crc", "image", write("bad_header_crc.png", _png_with_bad_crc(cover, b"IHDR")),
             "a PNG whose header fails its CRC", "truncated or corrupt image data"),
        Case("decompression_bomb", "image", write("bomb.png", png_header_only(BOMB_SIDE_PX, BOMB_SIDE_PX)),
             f"a {BOMB_SIDE_PX}x{BOMB_SIDE_PX} PNG header in a tiny file (decompression bomb)",
             "decompression bomb"),
        Case("memory_bomb", "image", write("memory_bomb.webp", webp_header(MEMORY_BOMB_SIDE_PX)),
             f"a {MEMORY_BOMB_SIDE_PX}x{MEMORY_BOMB_SIDE_PX} RGBA WebP in 44 bytes (about 800 MB "
             "to decode: within the pixel limit, over the decoding budget)",
             "of memory to decode, over the limit of 400 MB per image"),
        Case("one_pixel", "image", write("one_pixel.png", _encode(_noise(1, 1), "PNG")),
             "a 1x1 image", "too small"),
        Case("strip", "image", write("strip.png", _encode(np.full((20, 20_000, 3), 90, np.uint8),
                                                         "PNG")),
             "a 20000x20 strip", "too elongated"),
        Case("cmyk_jpeg", "image", write("cmyk.jpg", _encode_mode(cover, "CMYK", "JPEG")),
             "a CMYK JPEG", decoded_shape=(96, 96, 3)),
        Case("png_16bit", "image", write("sixteen_bit.png", _png_16bit(96, 96)),
             "a 16-bit grayscale PNG", decoded_shape=(96, 96, 3)),
        Case("palette_transparent", "image", write("palette.png", _palette_png(96, 96)),
             "a palette PNG with a transparent colour", decoded_shape=(96, 96, 3)),
        Case("rgba", "image", write("rgba.png", _encode_mode(cover, "RGBA", "PNG")),
             "an RGBA PNG", decoded_shape=(96, 96, 3)),
        Case("exif_rotated", "image", write("exif_rotated.jpg", _exif_rotated_jpeg(96, 48)),
             "a 96x48 JPEG whose EXIF says: rotate 90 degrees", decoded_shape=(96, 48, 3)),
        Case("animated_gif", "image", write("animated.gif", _animated_gif(64, 64)),
             "an animated GIF (3 frames)", decoded_shape=(64, 64, 3)),
        Case("svg", "image", write("vector.svg", _SVG), "an SVG", "SVG"),
        Case("heic", "image", write("photo.heic", _heic_like()), "a HEIC photo (iPhone)", "HEIC"),
        Case("tiff", "image", write("scan.tiff", _encode(cover, "TIFF")), "a TIFF scan",
             "TIFF images are not supported"),
    ]


def _noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _encode(rgb: np.ndarray, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **kwargs)
    return buf.getvalue()


def _encode_mode(rgb: np.ndarray, mode: str, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).convert(mode).save(buf, fmt)
    return buf.getvalue()


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return chunks


def _png(chunks, *, bad_crc_on: bytes | None = None) -> bytes:
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        crc = zlib.crc32(kind + body)
        if kind == bad_crc_on:
            crc ^= 0xFFFF
        out.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc))
    return b"".join(out)


def _png_with_bad_crc(rgb: np.ndarray, chunk: bytes = b"IDAT") -> bytes:
    """A valid PNG whose ``chunk`` fails its CRC: for IDAT, one byte of its pixel data
    is flipped; for IHDR, only the CRC is wrong (PIL checks it on opening)."""
    chunks = _png_chunks(_encode(rgb, "PNG"))
    if chunk == b"IDAT":
        body = next(b for k, b in chunks if k == b"IDAT")
        middle = len(body) // 2
        flipped = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1:]
        chunks = [(k, flipped if k == b"IDAT" else b) for k, b in chunks]
    return _png(chunks, bad_crc_on=chunk)


def png_header_only(width: int, height: int, *, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A PNG declaring ``width`` x ``height`` pixels (RGB by default; colour type 0 is
    grayscale, 6 RGBA), with one compressed row of data: a few hundred bytes."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (1 + channels * bit_depth // 8 * width), 9)
    return _png([(b"IHDR", ihdr), (b"IDAT", idat), (b"IEND", b"")])


def webp_header(side_px: int) -> bytes:
    """A 44-byte lossless WebP whose header says side x side RGBA pixels.

    A 64 px image of one colour with its VP8L header (14 bits width - 1, 14 bits
    height - 1) rewritten: PIL opens it at the new size, and a budget refuses it
    from there; its data would not decode at that size.
    """
    buf = io.BytesIO()
    Image.new("RGBA", (64, 64), (200, 30, 30, 128)).save(buf, "WEBP", lossless=True)
    data = bytearray(buf.getvalue())
    header = data.index(b"VP8L") + 9                  # after the chunk's size and 0x2f
    bits = int.from_bytes(data[header:header + 4], "little") & ~(2**28 - 1)
    bits |= (side_px - 1) | (side_px - 1) << 14
    data[header:header + 4] = bits.to_bytes(4, "little")
    return bytes(data)


def lying_jpeg(real_px: int, *, claimed_px: int, progressive: bool = False) -> bytes:
    """A ``real_px`` square JPEG of noise whose header claims ``claimed_px``: the data runs out."""
    data = bytearray(_encode(_noise(real_px, real_px), "JPEG", progressive=progressive))
    sof = data.index(b"\xff\xc2" if progressive else b"\xff\xc0")   # frame: length, precision, H, W
    data[sof + 5:sof + 9] = struct.pack(">HH", claimed_px, claimed_px)
    return bytes(data)


def _png_16bit(height: int, width: int) -> bytes:
    ramp = np.linspace(0, 65535, width, dtype=np.uint16)[None].repeat(height, 0)
    buf = io.BytesIO()
    Image.fromarray(ramp).save(buf, "PNG")     # mode I;16
    return buf.getvalue()


def _palette_png(height: int, width: int) -> bytes:
    image = Image.fromarray(_noise(height, width)).quantize(16)
    buf = io.BytesIO()
    image.save(buf, "PNG", transparency=0)
    return buf.getvalue()


def _exif_rotated_jpeg(width: int, height: int) -> bytes:
    image = Image.fromarray(_noise(height, width))
    exif = Image.Exif()
    exif[0x0112] = 6                           # Orientation: rotate 90 CW to display
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def _animated_gif(height: int, width: int) -> bytes:
    frames = [Image.fromarray(np.full((height, width, 3), value, np.uint8)) for value in (30, 120, 220)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


_SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="350" height="350">'
        b'<rect width="350" height="350" fill="#c0392b"/></svg>\n')


def _heic_like() -> bytes:
    """The opening boxes of a HEIC file (ISO BMFF, brand 'heic'), as an iPhone writes it."""
    ftyp = struct.pack(">I4s4sI", 24, b"ftyp", b"heic", 0) + b"mif1heic"
    meta = struct.pack(">I4s", 16, b"meta") + b"\x00" * 8
    return ftyp + meta + struct.pack(">I4s", 40, b"mdat") + bytes(range(32))


# --- zips, manifests ---------------------------------------------------------

def _zip_cases(folder: Path) -> list[Case]:
    jpeg = _encode(_noise(48, 48), "JPEG")
    good = {f"covers/{genre}/{i}.jpg": jpeg for genre in ("metal", "jazz") for i in range(3)}

    traversal = folder / "traversal.zip"
    with zipfile.ZipFile(traversal, "w") as archive:
        for name, data in good.items():
            archive.writestr(name, data)
        archive.writestr("covers/../../escaped.txt", b"written outside the extraction folder")

    bomb = folder / "zip_bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("covers/metal/0.jpg", jpeg)
        archive.writestr("covers/metal/huge.jpg", bytes(ZIP_BOMB_BYTES))

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("metal/deep.jpg", jpeg)
    nested = folder / "nested.zip"
    with zipfile.ZipFile(nested, "w") as archive:
        for name, data in good.items():
            archive.writestr(name, data)
        archive.writestr("covers/more-covers.zip", inner.getvalue())

    file_and_folder = folder / "file_and_folder.zip"
    with zipfile.ZipFile(file_and_folder, "w") as archive:
        for name, data in {**good, "covers/metal/x.jpg": jpeg, "covers/metal/x.jpg/y.jpg": jpeg}.items():
            archive.writestr(name, data)

    long_name = folder / "long_name.zip"
    with zipfile.ZipFile(long_name, "w") as archive:
        for name, data in {**good, f"covers/metal/{'a' * 296}.jpg": jpeg}.items():
            archive.writestr(name, data)

    only_nested = folder / "only_nested.zip"
    with zipfile.ZipFile(only_nested, "w") as archive:
        archive.writestr("inner.zip", inner.getvalue())

    encrypted = encrypted_zip(folder / "encrypted.zip", good)

    return [
        Case("zip_traversal", "zip", traversal, "a zip with a `../` member path",
             "points outside the archive"),
        Case("zip_file_and_folder", "zip", file_and_folder, "a zip whose `covers/metal/x.jpg` is a "
             "file and also a folder (`covers/metal/x.jpg/y.jpg`)",
             "'covers/metal/x.jpg' is both a file and a folder ('covers/metal/x.jpg/y.jpg' is inside it)"),
        Case("zip_long_name", "zip", long_name, "a zip with a 300-character file name",
             "has a name of 300 bytes, over the limit of 255 for a file or folder (name too long)"),
        Case("zip_only_nested", "zip", only_nested, "a zip holding only another zip",
             "holds no covers; skipped nested archive inner.zip (nested archives are not opened)"),
        Case("zip_encrypted", "zip", encrypted, "a zip whose covers need a password",
             "'covers/metal/0.jpg' is encrypted; upload a zip without a password"),
        Case("zip_bomb", "zip", bomb, f"a zip bomb ({ZIP_BOMB_BYTES // 1024**2} MB of zeros in "
             f"{bomb.stat().st_size // 1024} kB)", "possible zip bomb"),
        Case("zip_nested", "zip", nested, "a zip holding another zip", "nested archive, not extracted"),
    ]


def encrypted_zip(path: Path, members: dict[str, bytes]) -> Path:
    """A zip whose members are marked as encrypted (general-purpose flag bit 0), as
    ``zip -P`` or an archiver's "set password" writes them.

    Python's zipfile cannot encrypt, so the zip is written plain and the flag set by hand
    in each member's local and central headers: a reader asks for a password on that
    flag alone, before it reads any data, so the data need not really be encrypted.
    """
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with zipfile.ZipFile(path) as archive:
        local_offsets, central_offset = [i.header_offset for i in archive.infolist()], archive.start_dir
    data = bytearray(path.read_bytes())
    for offset in local_offsets:                     # local header: signature, version, flags
        data[offset + 6] |= 0x01
    offset = central_offset
    while data[offset:offset + 4] == b"PK\x01\x02":   # central header: flags at +8
        data[offset + 8] |= 0x01
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[offset + 28:offset + 34])
        offset += 46 + name_len + extra_len + comment_len
    path.write_bytes(bytes(data))
    return path


def _manifest_case(folder: Path) -> Case:
    """A manifest whose rows point at good covers, outside its folder and at missing files."""
    data = folder / "covers"
    jpeg = _encode(_noise(48, 48), "JPEG")
    rows = []
    for genre in ("metal", "jazz"):
        (data / genre).mkdir(parents=True, exist_ok=True)
        for i in range(3):
            (data / genre / f"{i}.jpg").write_bytes(jpeg)
            rows.append(f"{genre}/{i}.jpg,{genre}")
    (folder / "outside.jpg").write_bytes(jpeg)
    rows += ["../outside.jpg,metal", "/etc/hostname,jazz", "metal/missing.jpg,metal"]
    (data / "manifest.csv").write_text("path,genre\n" + "\n".join(rows) + "\n")
    return Case("manifest_outside_and_missing", "manifest", data / "manifest.csv",
                "a manifest CSV with rows outside its folder (`../x.jpg`, `/etc/hostname`) "
                "and a missing file", "outside the dataset folder")


def _two_genres_case(folder: Path) -> Case:
    """A manifest listing one cover under two genres: loaded as is, that cover would be
    two items, one per genre, and could be in train and in test with two labels."""
    data = folder / "covers"
    rows = []
    for k, genre in enumerate(("metal", "jazz")):
        (data / genre).mkdir(parents=True, exist_ok=True)
        for i in range(3):
            (data / genre / f"{i}.jpg").write_bytes(_encode(_noise(48, 48, seed=10 * k + i), "JPEG"))
            rows.append(f"{genre}/{i}.jpg,{genre}")
    rows.append("metal/0.jpg,jazz")
    (data / "manifest.csv").write_text("path,genre\n" + "\n".join(rows) + "\n")
    return Case("manifest_two_genres", "manifest", data / "manifest.csv",
                "a manifest CSV listing one cover under two genres",
                "1 file is listed on more than one row with different genres (a cover has one genre "
                "and one split; keep one row per file): 'metal/0.jpg' on row 2 (metal) and row 8 (jazz)")


# --- run folders, configs ----------------------------------------------------

RUN_CLASSES = ("folk", "jazz", "metal")        # the paper's order, as load_dataset gives it


def write_run_folder(run_dir: Path, *, data: Path, n_classes_in_weights: int = len(RUN_CLASSES),
                     seed: int = 0, arch: str = "custom", mode: str = "scratch",
                     input_px: int = 32) -> Path:
    """A finished run (untrained weights; the paper's CNN by default) over ``data``:
    what ``train`` writes, made in milliseconds. ``n_classes_in_weights`` other
    than 3 gives weights that do not fit its config."""
    import torch
    from safetensors.torch import save_file

    from cover_model.networks.models import build_model
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True)
    config = {"data": str(data), "arch": arch, "mode": mode, "size_px": input_px, "input_px": input_px,
              "preprocess": "area", "epochs": 2, "batch_size": 8, "lr": 0.01,
              "class_names": list(RUN_CLASSES), "dataset_fingerprint": "", "n_train": 0}
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "status.json").write_text(json.dumps({"state": "done"}))
    (run_dir / "metrics.json").write_text(json.dumps({"history": [], "best_epoch": 1}))
    torch.manual_seed(seed)
    model = build_model(arch, n_classes_in_weights, input_px=input_px, mode=mode, pretrained=False)
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}
    for name in ("best", "last"):
        save_file(weights, run_dir / f"{name}.safetensors")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": None,
                "progress": {"epoch": 0, "best_acc": 0.0, "best_epoch": 0, "stale": 0,
                             "history": []}}, run_dir / "last_state.pt")
    return run_dir


def write_run_data(folder: Path, n_per_genre: int = 8) -> Path:
    """A tiny folder dataset with :data:`RUN_CLASSES`, for the run folders to point at."""
    for k, genre in enumerate(RUN_CLASSES):
        (folder / genre).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_genre):
            (folder / genre / f"{i}.jpg").write_bytes(_encode(_noise(40, 40, seed=10 * k + i), "JPEG"))
    return folder


def _run_cases(folder: Path) -> list[Case]:
    """Run folders as a user might receive them: a pickle bomb, weights of another class count."""
    import torch
    data = write_run_data(folder / "covers")
    pickled = write_run_folder(folder / "malicious-pickle", data=data)
    marker = folder / EXPLOIT_MARKER
    # A pickle whose loading would create ``marker``: torch.load without
    # weights_only would run it. Put where the weights and the training state go.
    torch.save({"optimizer": _Exploit(str(marker)), "progress": {"epoch": 0}},
               pickled / "last_state.pt")
    (pickled / "best.safetensors").write_bytes((pickled / "last_state.pt").read_bytes())
    other = write_run_folder(folder / "wrong-class-count", data=data, n_classes_in_weights=5)
    return [
        Case("malicious_pickle", "run", pickled, "a run folder whose weights and training state "
             "are pickles that run code when loaded", "pickle"),
        Case("wrong_class_count", "run", other, "a run folder whose weights have 5 classes "
             "where its config lists 3", "weights do not fit"),
    ]


class _Exploit:
    """Unpickling this calls ``open(path, "w")``: proof that code ran."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _config_case(folder: Path) -> Case:
    settings = {"lr": -0.1, "batch_size": 0, "size_px": 1, "epochs": 1}
    path = folder / "out_of_range.json"
    path.write_text(json.dumps({"config": settings}))
    return Case("config_out_of_range", "config", path,
                "training settings out of range: lr -0.1, batch size 0, size 1 px",
                "lr must be in (0, 10]")


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bad-inputs")
    for case in write_corpus(out).values():
        print(f"{case.name:>28}  {case.path}")
