"""What a visitor waits for on Predict: upload bytes -> top-3 + Grad-CAM + colour profile.

    python bench/bench_predict.py [--covers DIR] [--repeats 30]   # with make's allocator env

In-process, as the dashboard serves it (the Predictor and the colour references are
built once and shared). Each model is timed the way the page calls it today
(``Predictor.explain``: one forward pass for top-3 and Grad-CAM) and the way it was
called before (``top_k`` then ``grad_cam``: two passes, the second back to the
input), on the same covers in the same run. The baseline is the paper's small CNN on
the synthetic covers, trained here in a few seconds.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cover_model.color.profile import build_reference, profile_cover  # noqa: E402
from cover_model.data.dataset import load_dataset  # noqa: E402
from cover_model.data.images import decode_image  # noqa: E402
from cover_model.networks.config import PRESETS, TrainConfig
from cover_model.networks.predict import Predictor  # noqa: E402
from cover_model.networks.training import main  # noqa: E402
from cover_model.shipped import SHIPPED_DIR, load_color_reference  # noqa: E402
from cover_model.synth import ensure_default_dataset  # noqa: E402


def answer_once(predictor, references, data: bytes):
    """Everything the page computes for one upload."""
    rgb = decode_image(data)                        # shown, and its colour profile
    answer = predictor.explain(data)                # the model's input from the bytes, as predict's
    for reference in references:
        profile_cover(rgb, reference)
    return answer


def answer_twice(predictor, references, data: bytes):
    """The same, with top-3 and Grad-CAM as two passes (before one pass served both)."""
    rgb = decode_image(data)
    predictor.top_k(data)
    predictor.grad_cam(data)
    for reference in references:
        profile_cover(rgb, reference)


def time_ms(fn, uploads: list[bytes], repeats: int) -> list[float]:
    fn(uploads[0])                                                   # warm-up
    out = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(uploads[i % len(uploads)])
        out.append(1000 * (time.perf_counter() - start))
    return out


def main_bench(args) -> None:
    synth = ensure_default_dataset()
    covers = sorted(Path(args.covers).rglob("*.jpg"))[:20] if args.covers else \
        sorted(Path(synth).rglob("*.jpg"))[:20]
    uploads = [p.read_bytes() for p in covers]
    synth_reference = build_reference(load_dataset(synth))
    with tempfile.TemporaryDirectory() as tmp:
        cnn_run = main(TrainConfig(**(PRESETS["paper-cnn"] | {"epochs": 1})), run_dir=Path(tmp) / "cnn")
        models = {"paper's CNN, synthetic covers (baseline)": (Predictor.from_run(cnn_run),
                                                                [synth_reference])}
        if (SHIPPED_DIR / "best.safetensors").is_file():
            models["shipped real-cover model"] = (Predictor.from_run(SHIPPED_DIR),
                                                  [load_color_reference(), synth_reference])
        rows = []
        for name, (predictor, refs) in models.items():
            once = time_ms(lambda data: answer_once(predictor, refs, data), uploads, args.repeats)
            twice = time_ms(lambda data: answer_twice(predictor, refs, data), uploads, args.repeats)
            rows.append((name, predictor.input_px, statistics.median(once), statistics.median(twice)))
    base = rows[0][2]
    print(f"covers: {len(uploads)} from {args.covers or 'the synthetic set'}; "
          f"{args.repeats} timed uploads per way; median ms")
    print("| model | input px | one pass (explain) | vs baseline | two passes (before) | speed-up |")
    print("|---|--:|--:|--:|--:|--:|")
    for name, px, once, twice in rows:
        print(f"| {name} | {px} | {once:.1f} | {once / base:.1f}x | {twice:.1f} | {twice / once:.2f}x |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--covers", help="a folder of covers to upload (default: synthetic ones)")
    parser.add_argument("--repeats", type=int, default=30)
    main_bench(parser.parse_args())
