"""How fast the synthetic covers generate, and how separable their genres are.

Generates the default synthetic dataset (100 covers per genre, seed 0) in a
temp folder, reports covers/s, then fits two small classifiers on a 70/30
stratified split (seed 0):

* a quick one: logistic regression on 8-bin-per-channel colour histograms plus
  16x16 downsized pixels;
* the paper-style tiny CNN on 32x32 area-downsized covers (conv 3->50 5x5,
  relu, maxpool 2, conv 50->10 3x3, relu, maxpool 2, fc 120-84-10; SGD lr 0.01,
  momentum 0.9, batch 10), printing train/test accuracy per epoch.

Both should land well above chance (10%) and well below 100%.

Run from the repository root (CPU; the glibc tunables make torch much faster)::

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \\
        .venv/bin/python bench/synth_separability.py [--n-per-genre 100] [--epochs 10]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script

from cover_model import synth  # noqa: E402
from cover_model.genres import PAPER_GENRES, folder_name  # noqa: E402

SEED = 0


def load_covers(root: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """All covers as RGB arrays, with their genre ids."""
    images, labels = [], []
    for genre_id, genre in enumerate(PAPER_GENRES):
        for path in sorted((root / folder_name(genre)).glob("*.jpg")):
            images.append(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
            labels.append(genre_id)
    return images, np.asarray(labels)


def quick_features(rgb: np.ndarray) -> np.ndarray:
    hist = np.concatenate([np.histogram(rgb[..., c], bins=8, range=(0, 256))[0] for c in range(3)])
    small = cv2.resize(rgb, (16, 16), interpolation=cv2.INTER_AREA)
    return np.concatenate([hist / rgb[..., 0].size, small.reshape(-1) / 255.0])


def quick_classifier_accuracy(images, labels, train_idx, test_idx) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = np.stack([quick_features(im) for im in images])
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    clf.fit(features[train_idx], labels[train_idx])
    return clf.score(features[test_idx], labels[test_idx])


def tiny_cnn():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, 50, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(50, 10, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(10 * 6 * 6, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def train_tiny_cnn(images, labels, train_idx, test_idx, epochs: int) -> float:
    """Train the tiny CNN, print accuracy per epoch, return the last test accuracy."""
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    small = np.stack([cv2.resize(im, (32, 32), interpolation=cv2.INTER_AREA) for im in images])
    x = (torch.from_numpy(small).permute(0, 3, 1, 2).float() / 255.0 - 0.5) / 0.5
    y = torch.from_numpy(labels)
    train_idx, test_idx = torch.from_numpy(train_idx), torch.from_numpy(test_idx)
    net = tiny_cnn()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(SEED)

    def accuracy(idx) -> float:
        net.eval()
        with torch.no_grad():
            return (net(x[idx]).argmax(1) == y[idx]).float().mean().item()

    test_acc = 0.0
    for epoch in range(1, epochs + 1):
        net.train()
        start = time.perf_counter()
        shuffled = train_idx[torch.randperm(len(train_idx), generator=order)]
        for batch in shuffled.split(10):
            opt.zero_grad()
            loss_fn(net(x[batch]), y[batch]).backward()
            opt.step()
        test_acc = accuracy(test_idx)
        print(f"  epoch {epoch:2d}: train {accuracy(train_idx):.3f}  test {test_acc:.3f}"
              f"  ({time.perf_counter() - start:.1f} s)")
    return test_acc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-per-genre", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    from sklearn.model_selection import train_test_split

    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        start = time.perf_counter()
        root = synth.generate(Path(tmp) / "covers", n_per_genre=args.n_per_genre, seed=SEED, n_jobs=args.jobs)
        seconds = time.perf_counter() - start
        n_covers = args.n_per_genre * len(PAPER_GENRES)
        print(f"generated {n_covers} covers in {seconds:.1f} s ({n_covers / seconds:.0f} covers/s, "
              f"{args.jobs} workers, synth v{synth.SYNTH_VERSION})")
        images, labels = load_covers(root)

    train_idx, test_idx = train_test_split(np.arange(len(labels)), test_size=0.3,
                                           random_state=SEED, stratify=labels)
    print(f"quick classifier (LogReg on colour histograms + 16x16 pixels): test accuracy "
          f"{quick_classifier_accuracy(images, labels, train_idx, test_idx):.3f}  (chance 0.100)")
    print(f"tiny CNN on 32x32 covers, {len(train_idx)} train / {len(test_idx)} test:")
    final = train_tiny_cnn(images, labels, train_idx, test_idx, args.epochs)
    print(f"tiny CNN final test accuracy {final:.3f}  (chance 0.100)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
