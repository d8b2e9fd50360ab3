"""Peak memory of three concurrent decodes of the worst covers a visitor can send.

    python bench/bench_decode_memory.py [--out DIR] [--package DIR] [--draft-px N]

For each kind of file (16-bit PNG, RGBA PNG, palette PNG with transparency,
progressive and EXIF-turned JPEGs, a JPEG whose header claims more pixels than
it holds, WebP, GIF, BMP) it writes two files: one at the pixel limit
(50 MP, as the security probe sent them) and the largest one that public
mode's decoding budget (``max_decode_bytes``, 400 MB) accepts, sized with
:func:`cover_model.data.images.estimate_decode_bytes`. Then, for each file, a fresh
process reads it, starts three threads that decode it at once, and reports how
much its peak resident memory (VmHWM) grew over the resident memory before the
threads started, next to the estimate for one decode.

``--package DIR`` measures another copy of the package (say, the previous
commit's: ``git archive HEAD~1 cover_model | tar -x -C /tmp/old``), on the
same files. The issue's target: under 1.5 GB for the three decodes together.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_ENV = "BENCH_COVER_MODEL_FROM"      # set for the child: the copy of the package to measure
sys.path.insert(0, os.environ.get(PACKAGE_ENV) or str(ROOT))
sys.path.insert(1, str(ROOT))
from tests.bad_inputs import lying_jpeg  # noqa: E402

MB = 1024**2
LIMIT_SIDE = 7070             # 7070^2 = 49,984,900 pixels: just under the 50 MP limit


# --- the files ---------------------------------------------------------------

def _save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _flat(mode: str, side: int, colour) -> Image.Image:
    return Image.new(mode, (side, side), colour)


def _palette(side: int) -> Image.Image:
    image = _flat("P", side, 1)
    image.putpalette([255, 255, 255, 200, 30, 30] + [0, 0, 0] * 254)
    return image


def _turned_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif.tobytes()


KINDS = {   # name -> (side -> bytes)
    "png_16bit_gray": lambda s: _save(_flat("I;16", s, 30000), "PNG", compress_level=1),
    "png_rgba": lambda s: _save(_flat("RGBA", s, (200, 30, 30, 128)), "PNG", compress_level=1),
    "png_rgb": lambda s: _save(_flat("RGB", s, (200, 30, 30)), "PNG", compress_level=1),
    "png_palette_transparent": lambda s: _save(_palette(s), "PNG", transparency=0,
                                               compress_level=1),
    "jpeg_progressive_444": lambda s: _save(_flat("RGB", s, (200, 30, 30)), "JPEG",
                                            progressive=True, subsampling=0),
    "jpeg_exif_turned": lambda s: _save(_flat("RGB", s, (200, 30, 30)), "JPEG",
                                        exif=_turned_exif()),
    "jpeg_header_lies": lambda s: lying_jpeg(350, claimed_px=s),     # the probe's case
    "webp_rgba_lossless": lambda s: _save(_flat("RGBA", s, (200, 30, 30, 128)), "WEBP",
                                          lossless=True, method=0),
    "gif_transparent": lambda s: _save(_palette(s), "GIF", transparency=0),
    "bmp_rgb": lambda s: _save(_flat("RGB", s, (200, 30, 30)), "BMP"),
}


def largest_accepted_side(kind: str, budget: int, draft_px: int | None) -> int:
    """The largest square side of ``kind`` whose estimate fits ``budget``."""
    from cover_model.data.images import MAX_PIXELS, estimate_decode_bytes
    image = Image.open(io.BytesIO(KINDS[kind](64)))
    lo, hi = 16, int(MAX_PIXELS**0.5)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        image._size = (mid, mid)           # the estimate reads only the header's fields
        if estimate_decode_bytes(image, draft_px) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def write_files(out: Path, draft_px: int | None) -> list[Path]:
    from cover_model.public_mode import PUBLIC
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in KINDS:
        sides = {"at-limit": LIMIT_SIDE}
        accepted = largest_accepted_side(kind, PUBLIC.max_decode_bytes, draft_px)
        if accepted < LIMIT_SIDE:              # else the file at the limit is the worst accepted
            sides["largest-accepted"] = accepted
        for label, side in sides.items():
            ext = kind.split("_")[0]
            path = out / f"{kind}-{label}-{side}.{ext}"
            if not path.exists():
                path.write_bytes(KINDS[kind](side))
            paths.append(path)
    return paths


# --- one measurement, in a fresh process ---------------------------------------

def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def child(path: Path, draft_px: int | None, n_threads: int) -> dict:
    """``n_threads`` threads decode ``path`` at once; how much the peak resident memory grew."""
    from cover_model.data.images import ImageDecodeError, decode_image
    data = path.read_bytes()
    decode_image(_save(_flat("RGB", 64, 0), "PNG"))          # warm up lazy imports
    start = threading.Barrier(n_threads)
    outcomes = []

    def decode():
        start.wait()
        try:
            outcomes.append("shape %s" % (decode_image(data, draft_px=draft_px).shape,))
        except ImageDecodeError as exc:
            outcomes.append("refused: " + str(exc).split(": ", 1)[1][:120])

    base = _vm("VmRSS")
    threads = [threading.Thread(target=decode) for _ in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    estimate = _estimate(data, draft_px)
    return {"grew_mb": (_vm("VmHWM") - base) / MB, "outcome": outcomes[0],
            "estimate_mb": estimate / MB if estimate else None}


def _estimate(data: bytes, draft_px: int | None) -> int | None:
    try:
        from cover_model.data.images import estimate_decode_bytes
    except ImportError:                    # an older copy of the package
        return None
    return estimate_decode_bytes(Image.open(io.BytesIO(data)), draft_px)


def measure(path: Path, package: Path | None, draft_px: int | None, n_threads: int) -> dict:
    env = os.environ | {"COVER_LAB_PUBLIC": "1", PACKAGE_ENV: str(package or ROOT)}
    command = [sys.executable, __file__, "--child", str(path), "--threads", str(n_threads)]
    if draft_px:
        command += ["--draft-px", str(draft_px)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode:
        return {"grew_mb": float("nan"), "outcome": "crashed: " + done.stderr.strip()[-200:],
                "estimate_mb": None}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bench-decode-memory")
    parser.add_argument("--package", type=Path, help="folder holding the cover_model to measure")
    parser.add_argument("--draft-px", type=int, help="decode for this target size (as preprocessing)")
    parser.add_argument("--threads", type=int, default=3, help="decodes at once (default 3)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.draft_px, args.threads)))
        return 0
    print(f"{args.threads} concurrent decodes per file, public mode, draft_px={args.draft_px}, "
          f"package {args.package or ROOT}\n")
    print(f"| file | size | estimate, one decode | peak RSS growth, {args.threads} at once | outcome |")
    print("|---|---:|---:|---:|---|")
    worst = 0.0
    for path in write_files(args.out, args.draft_px):
        row = measure(path, args.package, args.draft_px, args.threads)
        worst = max(worst, row["grew_mb"])
        estimate = f"{row['estimate_mb']:,.0f} MB" if row["estimate_mb"] else "-"
        print(f"| {path.name} | {path.stat().st_size / MB:,.1f} MB | {estimate} | "
              f"{row['grew_mb']:,.0f} MB | {row['outcome']} |", flush=True)
    print(f"\nworst: {worst:,.0f} MB for {args.threads} concurrent decodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
