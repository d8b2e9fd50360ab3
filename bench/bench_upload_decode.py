"""Decoding an upload for the model: full size then the model's resize, or JPEG draft mode.

    python bench/bench_upload_decode.py [--data ../shared/data/real-covers] [--n 150]

Each real cover (300 px, as the shipped model was trained on) is re-saved at 1,200 px
(Lanczos, JPEG quality 90), as a visitor's larger copy of the same cover would be. The
shipped model's probabilities on it are compared three ways: decoded at full size then
downsized by the model's own method (``area``; the reference), decoded at reduced scale
(libjpeg's DCT scaling, 1/4 here), and the 300 px original the training covers were.
Also the time of each decode and downsize (median, ms).
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cover_model.data.downsize import downsize  # noqa: E402
from cover_model.data.images import decode_image  # noqa: E402
from cover_model.networks.predict import Predictor  # noqa: E402
from cover_model.shipped import SHIPPED_DIR  # noqa: E402


def resaved(path: Path, side_px: int) -> bytes:
    buf = io.BytesIO()
    Image.open(path).convert("RGB").resize((side_px, side_px), Image.LANCZOS).save(
        buf, "JPEG", quality=90)
    return buf.getvalue()


def full_then_resize(data: bytes, px: int) -> np.ndarray:
    return downsize(decode_image(data), px, method="area")


def draft_then_resize(data: bytes, px: int) -> np.ndarray:
    return downsize(decode_image(data, draft_px=px), px, method="area")


@torch.no_grad()
def probabilities(predictor: Predictor, covers: list[np.ndarray]) -> np.ndarray:
    x = torch.from_numpy(np.stack(covers)).permute(0, 3, 1, 2).float().div_(255)
    return np.concatenate([predictor.model(b).softmax(1).numpy() for b in x.split(25)])


def median_ms(fn, uploads, px) -> float:
    times = []
    for data in uploads:
        start = time.perf_counter()
        fn(data, px)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def main(args) -> None:
    items = pd.read_csv(Path(args.data) / "manifest.csv")
    items = items[items["split"] == "test"].sample(args.n, random_state=0)
    paths = [Path(args.data) / p for p in items["path"]]
    predictor = Predictor.from_run(SHIPPED_DIR)
    px = predictor.input_px
    uploads = [resaved(p, args.side) for p in paths]
    load = os.getloadavg()[0]
    ways = {"full size, then area": full_then_resize, "draft (DCT 1/4), then area": draft_then_resize}
    probs = {name: probabilities(predictor, [fn(d, px) for d in uploads]) for name, fn in ways.items()}
    original = probabilities(predictor, [downsize(decode_image(p), px) for p in paths])
    reference = probs["full size, then area"]
    print(f"{len(paths)} test covers re-saved at {args.side} px; shipped model; load {load:.1f}")
    print("| decode | vs full: max / mean abs diff (points) | top-1 same as full | "
          "vs the 300 px original: max / mean | top-1 same as original | ms (median) |")
    print("|---|--:|--:|--:|--:|--:|")
    for name, fn in ways.items():
        p = probs[name]
        d_ref, d_orig = 100 * np.abs(p - reference), 100 * np.abs(p - original)
        print(f"| {name} | {d_ref.max():.2f} / {d_ref.mean():.3f} | "
              f"{(p.argmax(1) == reference.argmax(1)).mean():.1%} | "
              f"{d_orig.max():.2f} / {d_orig.mean():.3f} | "
              f"{(p.argmax(1) == original.argmax(1)).mean():.1%} | {median_ms(fn, uploads, px):.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/real-covers"))
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--side", type=int, default=1200)
    main(parser.parse_args())
