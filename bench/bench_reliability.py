"""Reliability figures: memory while switching the dashboard's model, and the cost of
refusing bombs.

    python bench/bench_reliability.py [--switches 60] [--arch efficientnet_lite0]

1. Memory. The Predict page (AppTest, in this process) with two finished runs of
   ``--arch`` (untrained weights: the size is what matters) and one uploaded cover,
   so each rerun predicts and draws Grad-CAM. The model is switched back and
   forth ``--switches`` times. Resident memory (VmRSS) after the first model vs
   after 10, 20 and all switches; how many times a model was loaded.
2. Bombs. Median time for ``decode_image`` to refuse a 40000x40000 PNG (a
   ~200-byte decompression bomb) vs to decode one ordinary 350x350 JPEG cover,
   and for ``load_dataset`` to refuse the corpus's zip bomb vs to import an
   ordinary zip of 30 covers. Peak memory (ru_maxrss) before and after refusing
   the bombs.

All figures come from one run on one machine; the ratios are what to compare.
The load average is printed with them: the machine may be shared.
"""
from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from timing import median_seconds  # noqa: E402

from cover_model.data.dataset import load_dataset  # noqa: E402
from cover_model.data.images import ImageDecodeError, decode_image  # noqa: E402
from tests.bad_inputs import write_corpus, write_run_data, write_run_folder  # noqa: E402
from tests.helpers import make_folder_dataset  # noqa: E402


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def refused(fn):
    def call():
        try:
            fn()
        except (ImageDecodeError, ValueError):
            return
        raise AssertionError("a bomb was not refused")
    return call


def bomb_figures(work: Path, repeats: int) -> list[tuple[str, str]]:
    import cv2

    from cover_model.synth import render_cover
    corpus = write_corpus(work / "corpus")
    bomb_png = corpus["decompression_bomb"].path.read_bytes()
    ok, cover_jpg = cv2.imencode(".jpg", cv2.cvtColor(render_cover("metal", seed=1, index=0),
                                                      cv2.COLOR_RGB2BGR))
    cover_jpg = cover_jpg.tobytes()
    folder = make_folder_dataset(work / "zip-src" / "covers", {"metal": 10, "jazz": 10, "folk": 10})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path in sorted(folder.rglob("*.jpg")):
            archive.write(path, path.relative_to(folder.parent))
    (work / "covers.zip").write_bytes(buf.getvalue())
    zip_bomb = corpus["zip_bomb"].path

    n_imports = iter(range(10**6))

    def import_normal_zip():                    # a fresh folder each time: a real extraction
        load_dataset(work / "covers.zip", extract_to=work / f"imports-{next(n_imports)}")

    peak_before = peak_rss_mb()
    refuse_png = median_seconds(refused(lambda: decode_image(bomb_png)), repeats)
    refuse_zip = median_seconds(refused(lambda: load_dataset(zip_bomb, extract_to=work / "bomb-imports")),
                          max(3, repeats // 10))
    peak_after = peak_rss_mb()
    decode_jpg = median_seconds(lambda: decode_image(cover_jpg), repeats)
    normal_zip = median_seconds(import_normal_zip, max(3, repeats // 10))
    side = 40_000
    return [
        ("refuse the 40000x40000 PNG bomb (ms)", f"{refuse_png * 1e3:.3f}"),
        ("decode one 350x350 JPEG cover (ms)", f"{decode_jpg * 1e3:.3f}"),
        ("bomb refusal / normal decode", f"{refuse_png / decode_jpg:.3f}x "
                                         f"({decode_jpg / refuse_png:.0f}x faster)"),
        ("memory the bomb would need decoded (GB)", f"{side * side * 3 / 1e9:.1f}"),
        ("refuse the zip bomb, 50 MB of zeros in 51 kB (ms)", f"{refuse_zip * 1e3:.2f}"),
        ("import a normal zip of 30 covers (ms)", f"{normal_zip * 1e3:.2f}"),
        ("zip bomb refusal / normal import", f"{refuse_zip / normal_zip:.3f}x "
                                             f"({normal_zip / refuse_zip:.0f}x faster)"),
        ("peak RSS before / after refusing the bombs (MB)",
         f"{peak_before:.0f} / {peak_after:.0f}"),
    ]


def switching_figures(work: Path, *, arch: str, switches: int) -> list[tuple[str, str]]:
    from streamlit.testing.v1 import AppTest

    from cover_model.networks.archs import default_input_px
    from cover_model.networks.predict import Predictor
    from tests.helpers import jpeg_bytes

    os.environ["COVER_LAB_CHECKPOINTS"] = str(work / "checkpoints")
    mode = "scratch" if arch == "custom" else "linear"
    input_px = default_input_px(arch, mode)
    data = write_run_data(work / "run-covers", n_per_genre=6)
    run_dirs = [str(write_run_folder(work / "checkpoints" / f"2099010{i}-000000-{arch}-m{i}", data=data,
                                     seed=i, arch=arch, mode=mode, input_px=input_px)) for i in (1, 2)]
    n_loads = [0]
    original = Predictor.from_run

    def counting(run_dir, **kwargs):
        n_loads[0] += 1
        return original(run_dir, **kwargs)
    Predictor.from_run = staticmethod(counting)

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["dataset_kind"] = "Folder, manifest or zip on the server"
    at.session_state["dataset_path"] = str(data)
    at.switch_page("app_pages/predict.py").run()
    at.sidebar.selectbox(key="predict_run").set_value(run_dirs[0]).run()
    at.file_uploader(key="predict_uploads").set_value(
        [("cover.jpg", jpeg_bytes((90, 160, 40), size=(350, 350)), "image/jpeg")]).run()
    assert not at.exception, at.exception
    first = rss_mb()
    rss = []                                    # after each switch
    start = time.perf_counter()
    for switch in range(switches):
        at.sidebar.selectbox(key="predict_run").set_value(run_dirs[(switch + 1) % 2]).run()
        assert not at.exception, at.exception
        rss.append(rss_mb())
    seconds = (time.perf_counter() - start) / switches
    Predictor.from_run = original
    marks = sorted({min(10, switches), min(20, switches), switches})
    return [
        (f"model ({arch}, {input_px} px) weights per run (MB)",
         f"{Path(run_dirs[0], 'best.safetensors').stat().st_size / 1e6:.1f}"),
        ("RSS after the first model and prediction (MB)", f"{first:.0f}"),
        *[(f"RSS after {n} switches (MB)", f"{rss[n - 1]:.0f}") for n in marks],
        (f"after {marks[1]} switches / after the first model", f"{rss[marks[1] - 1] / first:.3f}x"),
        (f"growth from switch {marks[0]} to {switches} (MB)", f"{rss[-1] - rss[marks[0] - 1]:+.0f}"),
        (f"highest RSS over the {switches} switches (MB)", f"{max(rss):.0f}"),
        ("models loaded", f"{n_loads[0]} (for {switches} switches)"),
        ("page rerun after a switch, with one upload (ms)", f"{seconds * 1e3:.0f}"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switches", type=int, default=60, help="figures at 10, 20 and this")
    parser.add_argument("--arch", default="efficientnet_lite0", help="network of the two runs")
    parser.add_argument("--repeats", type=int, default=200, help="timing repeats for the bombs")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-reliability-"))
    os.environ["COVER_LAB_DATA"] = str(work / "data")
    load_start = os.getloadavg()
    rows = bomb_figures(work, args.repeats)
    rows += switching_figures(work, arch=args.arch, switches=args.switches)
    load_end = os.getloadavg()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"load average (1, 5, 15 min): start {load_start[0]:.2f} {load_start[1]:.2f} "
          f"{load_start[2]:.2f}, end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}; "
          f"{os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
