"""Procedurally generated album covers: the project's embedded default dataset.

This package owns the synthetic dataset: a style prior per paper genre, the
renderer that turns (seed, genre, index) into one 350x350 RGB cover, and the
writer that lays the covers out as a folder dataset::

    <root>/SYNTHETIC.txt                 marker: what this is, parameters, version
    <root>/<folder_name(genre)>/<folder_name(genre)>-<index>.jpg

Each genre's prior loosely follows the paper's observations (metal dark and
high-contrast, ambient soft gradients, punk black/white plus one loud colour,
...). Every component of a cover (palette, background, each motif, text,
texture, finish) comes from the cover's own genre prior with probability
``OWN_STYLE_PROB`` and from another genre's prior otherwise, so the genres
overlap: a small classifier does far better than chance but far from perfect.

Every cover depends only on (seed, genre, index), so the dataset is the same
byte for byte whatever the number of worker processes, and even when the
workers break and the calling process finishes the job.

Run it from the repository root through the project CLI::

    python -m cover_model synth                           # default: data/synth-v<V>-seed0-n100
    python -m cover_model synth --n-per-genre 20 --seed 1 --out /tmp/covers

or from Python: ``ensure_default_dataset()`` (generate once, then reuse) or
``generate(out_dir, n_per_genre=..., seed=...)``.

Modules, in the order a cover is made:

* ``palettes``: colour helpers and one palette generator per genre;
* ``canvas``: pixel-space helpers shared by the layers;
* ``backgrounds``, ``motifs``, ``text``, ``textures``: the layers of a cover
  (``textures`` also holds the final tone ``Finish``);
* ``priors``: each genre's weights over those layers;
* ``render``: ``render_cover``, mixing the priors (``SYNTH_VERSION`` lives here);
* ``layout``: file names, the JPEG files and the ``SYNTHETIC.txt`` marker;
* ``workers``: rendering all covers in worker processes, or here if they break;
* ``writer``: ``generate`` (atomic publish) and the default dataset under ``data/``.
"""
from .layout import JPEG_QUALITY, MARKER_NAME, cover_filename, is_synthetic
from .palettes import Colour
from .render import DEFAULT_SIZE_PX, OWN_STYLE_PROB, SYNTH_VERSION, render_cover
from .workers import ProgressFn
from .writer import (
    BackgroundGeneration,
    default_dataset_dir,
    default_dataset_ready,
    ensure_default_dataset,
    generate,
)

__all__ = [
    "SYNTH_VERSION", "MARKER_NAME", "OWN_STYLE_PROB", "DEFAULT_SIZE_PX", "JPEG_QUALITY",
    "render_cover", "generate", "default_dataset_dir", "default_dataset_ready", "ensure_default_dataset", "cover_filename",
    "is_synthetic", "BackgroundGeneration",
    "ProgressFn", "Colour",
]
