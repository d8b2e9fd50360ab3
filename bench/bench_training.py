"""Training and prediction speed on the real covers, against plain pipelines in the same run.

    python bench/bench_training.py [--data ../shared/data/real-covers] [--quick]

1. The paper's CNN (32x32, SGD): one epoch of ``training.train_one_epoch`` on
   cached uint8 tensors vs a plain ``torchvision.datasets.ImageFolder`` +
   ``DataLoader`` that decodes and resizes every JPEG every epoch, at batch 10
   and 128 (the faster of 0 and 2 loader workers is the baseline).
2. A frozen EfficientNet-Lite0 (the paper's transfer learning): one epoch of
   the head on cached embeddings vs pushing every cover through the frozen
   backbone each epoch.
3. Predict latency per image on CPU (decode + downsize + network), median.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cover_model.data.dataset import load_dataset  # noqa: E402
from cover_model.networks.config import TrainConfig
from cover_model.networks.data import load_tensors  # noqa: E402
from cover_model.networks.device import setup_context  # noqa: E402
from cover_model.networks.training import build, train_one_epoch  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-covers"


def plain_loader_epoch(paths, labels, model, optimizer, *, size_px, batch_size, workers) -> float:
    """Covers/s of one epoch through ImageFolder-style decoding (PIL open, resize, to tensor)."""
    from torchvision import transforms
    from torchvision.datasets.folder import default_loader

    class Covers(torch.utils.data.Dataset):          # ImageFolder, restricted to the train split
        transform = transforms.Compose([transforms.Resize((size_px, size_px)), transforms.ToTensor()])

        def __len__(self):
            return len(paths)

        def __getitem__(self, i):
            return self.transform(default_loader(paths[i])), labels[i]

    loader = torch.utils.data.DataLoader(Covers(), batch_size=batch_size, shuffle=True,
                                         num_workers=workers)
    model.train()
    start = time.perf_counter()
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return len(paths) / (time.perf_counter() - start)


def cached_epoch(data, model, optimizer, ctx, cfg, inputs=None) -> float:
    inputs = data.train.images if inputs is None else inputs
    fit = train_one_epoch(model, inputs, data.train.labels, optimizer, ctx, cfg, epoch=0)
    return fit["n_seen"] / fit["seconds"]


def bench_cnn(dataset, args) -> list[tuple[str, float, float]]:
    rows = []
    for batch in (10, 128):
        cfg = TrainConfig(data=str(args.data), batch_size=batch)
        ctx = setup_context("cpu")
        data = load_tensors(cfg, ctx, dataset=dataset)
        model, optimizer, _ = build(cfg, data.class_names, ctx)
        ours = max(cached_epoch(data, model, optimizer, ctx, cfg) for _ in range(2))
        rows_ = data.dataset.items.iloc[data.train.index]
        paths, labels = rows_["path"].tolist(), rows_["label"].tolist()
        if args.quick:
            paths, labels = paths[:600], labels[:600]
        plain = max(plain_loader_epoch(paths, labels, model, optimizer, size_px=32,
                                       batch_size=batch, workers=w) for w in (0, 2))
        rows.append((f"custom CNN, batch {batch}", plain, ours))
    return rows


def bench_linear(dataset, args) -> list[tuple[str, float, float]]:
    cfg = TrainConfig(data=str(args.data), arch="efficientnet_lite0", mode="linear", batch_size=64,
                      optimizer="adamw", lr=0.001)
    ctx = setup_context("cpu")
    data = load_tensors(cfg, ctx, dataset=dataset)
    model, optimizer, _ = build(cfg, data.class_names, ctx)
    inputs, _ = data.train_inputs(model, cfg, ctx)               # embeds once (cached on disk)
    head = max(cached_epoch(data, model.head, optimizer, ctx, cfg, inputs) for _ in range(3))
    n = 256 if args.quick else 640                                  # the slow way, on a slice
    sliced = data.train.images[:n]
    start = time.perf_counter()
    model.train()
    for i in range(0, n, cfg.batch_size):
        x = sliced[i:i + cfg.batch_size].float().div_(255)
        loss = F.cross_entropy(model(x), data.train.labels[i:i + cfg.batch_size])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    backbone_each_epoch = n / (time.perf_counter() - start)
    return [("EfficientNet-Lite0 linear, batch 64", backbone_each_epoch, head)]


def bench_predict(dataset, args) -> list[tuple[str, float]]:
    from cover_model.networks.predict import Predictor
    from cover_model.networks.training import main
    covers = dataset.items["path"].tolist()[:60]
    rows = []
    # The last network is the best preset's (384 px, every stage pooled); its head is
    # fitted by one loop epoch here, which costs the same at prediction as the exact head.
    for label, settings in (("custom (scratch)", {"arch": "custom"}),
                            ("efficientnet_lite0 (linear)", {"arch": "efficientnet_lite0", "mode": "linear"}),
                            ("efficientnet_lite0 (linear, 384 px, all stages: the best preset's network)",
                             {"arch": "efficientnet_lite0", "mode": "linear", "size_px": 384,
                              "pooling": "stages"})):
        run = main(TrainConfig(data=str(args.data), epochs=1, batch_size=64, **settings),
                   dataset=dataset)
        predictor = Predictor.from_run(run)
        predictor.top_k(covers[0])                                  # warm-up
        seconds = []
        for path in covers:
            start = time.perf_counter()
            predictor.top_k(path)
            seconds.append(time.perf_counter() - start)
        rows.append((label, 1000 * statistics.median(seconds)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="smaller slices, for a smoke run")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"no data at {args.data}; pass --data DIR")
        return 1
    import os
    os.environ.setdefault("COVER_LAB_DATA", tempfile.mkdtemp(prefix="bench-training-"))
    os.environ["COVER_LAB_CHECKPOINTS"] = tempfile.mkdtemp(prefix="bench-runs-")
    dataset = load_dataset(args.data)
    print(f"{len(dataset)} covers from {args.data}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| training | plain pipeline, covers/s | ours, covers/s | speed-up |")
    print("|---|---:|---:|---:|")
    for name, plain, ours in bench_cnn(dataset, args) + bench_linear(dataset, args):
        print(f"| {name} | {plain:,.0f} | {ours:,.0f} | {ours / plain:.1f}x |")
    print("\n| predict one cover (decode + downsize + network) | median ms |")
    print("|---|---:|")
    for name, ms in bench_predict(dataset, args):
        print(f"| {name} | {ms:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
