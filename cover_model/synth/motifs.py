"""Motifs: the shapes drawn over the background (circles, spikes, portraits, ...).

Each motif is ``(rng, img, palette) -> None`` and draws in place on a uint8
``(size, size, 3)`` image; ``MOTIFS`` maps the names the genre priors use to
them. Most motifs are a crude nod to one genre's typical artwork (noted in
their comments), but any genre can borrow any motif.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .canvas import point, px, smooth_noise, unit_grid
from .palettes import accent, any_colour
from .text import random_word


def _blend_onto(img: np.ndarray, overlay: np.ndarray, alpha: float) -> None:
    cv2.addWeighted(overlay, alpha, img, 1.0 - alpha, 0.0, dst=img)


# --------------------------------------------------------------------------
# Geometric shapes
# --------------------------------------------------------------------------

def _circles(rng, img, palette):
    size = img.shape[0]
    overlay = img.copy()
    for _ in range(int(rng.integers(1, 5))):
        thickness = -1 if rng.random() < 0.7 else px(size, rng.uniform(0.01, 0.04))
        cv2.circle(overlay, point(rng, size, 0.1, 0.9), px(size, rng.uniform(0.05, 0.35)),
                   accent(rng, palette), thickness, cv2.LINE_AA)
    _blend_onto(img, overlay, rng.uniform(0.6, 1.0))


def _blocks(rng, img, palette):
    # Big flat axis-aligned blocks snapped to a coarse grid, as in jazz sleeves.
    size = img.shape[0]
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = (rng.integers(0, 6, size=2) / 6 * size).astype(int)
        w, h = (rng.uniform(0.2, 0.7, size=2) * size).astype(int)
        cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)),
                      accent(rng, palette), -1)


def _polygons(rng, img, palette):
    size = img.shape[0]
    overlay = img.copy()
    for _ in range(int(rng.integers(1, 5))):
        pts = (rng.uniform(-0.1, 1.1, size=(int(rng.integers(3, 5)), 2)) * size).astype(np.int32)
        cv2.fillPoly(overlay, [pts], accent(rng, palette), cv2.LINE_AA)
    _blend_onto(img, overlay, rng.uniform(0.6, 1.0))


def _stripes(rng, img, palette):
    size = img.shape[0]
    x, y = unit_grid(size)
    angle = rng.choice([0.0, math.pi / 2, rng.uniform(0, math.pi)])
    along = x * math.cos(angle) + y * math.sin(angle)
    period = rng.uniform(0.04, 0.2)
    mask = (along / period) % 1.0 < rng.uniform(0.3, 0.6)
    if rng.random() < 0.5:  # stripes confined to a band
        lo = rng.uniform(0.0, 0.6)
        across = -x * math.sin(angle) + y * math.cos(angle)
        across = (across - across.min()) / (np.ptp(across) + 1e-6)
        mask &= (across > lo) & (across < lo + rng.uniform(0.15, 0.4))
    img[mask] = np.asarray(accent(rng, palette), dtype=np.float32).astype(np.uint8)


def _thin_lines(rng, img, palette):
    size = img.shape[0]
    colour = accent(rng, palette)
    for _ in range(int(rng.integers(3, 15))):
        cv2.line(img, point(rng, size, -0.1, 1.1), point(rng, size, -0.1, 1.1), colour,
                 px(size, rng.uniform(0.002, 0.008)), cv2.LINE_AA)


def _concentric(rng, img, palette):
    size = img.shape[0]
    centre = point(rng, size, 0.2, 0.8)
    step = size * rng.uniform(0.02, 0.07)
    colours = [accent(rng, palette), any_colour(rng, palette)]
    for i in range(int(rng.integers(3, 12)), 0, -1):
        cv2.circle(img, centre, int(i * step), colours[i % 2], -1, cv2.LINE_AA)


def _rays(rng, img, palette):
    size = img.shape[0]
    centre = np.asarray(point(rng, size, 0.2, 0.8), dtype=np.float32)
    n_rays = int(rng.integers(8, 24))
    overlay = img.copy()
    colour = accent(rng, palette)
    for k in range(n_rays):
        a0, a1 = (2 * k + np.array([0.0, 1.0])) * math.pi / n_rays
        far = centre + 2 * size * np.array([[math.cos(a0), math.sin(a0)], [math.cos(a1), math.sin(a1)]])
        cv2.fillPoly(overlay, [np.vstack([centre, far]).astype(np.int32)], colour, cv2.LINE_AA)
    _blend_onto(img, overlay, rng.uniform(0.25, 0.6))


def _confetti(rng, img, palette):
    size = img.shape[0]
    for _ in range(int(rng.integers(15, 60))):
        colour = any_colour(rng, palette)
        centre, r = point(rng, size), px(size, rng.uniform(0.01, 0.04))
        if rng.random() < 0.5:
            cv2.circle(img, centre, r, colour, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(img, (centre[0] - r, centre[1] - r), (centre[0] + r, centre[1] + r), colour, -1)


def _horizon_sun(rng, img, palette):
    size = img.shape[0]
    overlay = img.copy()
    cv2.circle(overlay, point(rng, size, 0.25, 0.75), px(size, rng.uniform(0.08, 0.25)),
               accent(rng, palette), -1, cv2.LINE_AA)
    _blend_onto(img, overlay, rng.uniform(0.5, 1.0))


def _frame(rng, img, palette):
    size = img.shape[0]
    inset = px(size, rng.uniform(0.04, 0.12))
    cv2.rectangle(img, (inset, inset), (size - inset, size - inset), any_colour(rng, palette),
                  px(size, rng.uniform(0.005, 0.03)))


# --------------------------------------------------------------------------
# Genre imagery
# --------------------------------------------------------------------------

def _star_points(rng, centre, r_outer, r_inner, n_points, jitter) -> np.ndarray:
    angles = np.linspace(0, 2 * math.pi, 2 * n_points, endpoint=False) + rng.uniform(0, math.pi)
    radii = np.where(np.arange(2 * n_points) % 2 == 0, r_outer, r_inner)
    radii = radii * rng.uniform(1 - jitter, 1 + jitter, size=radii.shape)
    return np.stack([centre[0] + radii * np.cos(angles),
                     centre[1] + radii * np.sin(angles)], axis=1).astype(np.int32)


def _spikes(rng, img, palette):
    # Jagged star bursts and shards: the sharp, hostile shapes of metal art.
    size = img.shape[0]
    centre = point(rng, size, 0.3, 0.7)
    pts = _star_points(rng, centre, size * rng.uniform(0.2, 0.5), size * rng.uniform(0.03, 0.1),
                       int(rng.integers(7, 20)), jitter=0.35)
    colour = accent(rng, palette)
    if rng.random() < 0.5:
        cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
    else:
        cv2.polylines(img, [pts], True, colour, px(size, 0.006), cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 6))):
        tip = point(rng, size)
        base = np.asarray(tip) + rng.normal(0, size * 0.12, size=(2, 2))
        shard = np.vstack([tip, base]).astype(np.int32)
        cv2.fillPoly(img, [shard], accent(rng, palette), cv2.LINE_AA)


def _cracks(rng, img, palette):
    size = img.shape[0]
    colour = accent(rng, palette)
    for _ in range(int(rng.integers(2, 7))):
        steps = rng.normal(0, size * 0.04, size=(int(rng.integers(6, 20)), 2))
        path = (np.cumsum(steps, axis=0) + point(rng, size)).astype(np.int32)
        cv2.polylines(img, [path], False, colour, px(size, rng.uniform(0.002, 0.01)), cv2.LINE_AA)


def _neon(rng, img, palette):
    # Bright outlines on a black layer, blurred and added back: a neon glow.
    size = img.shape[0]
    layer = np.zeros_like(img)
    for _ in range(int(rng.integers(2, 6))):
        pts = (rng.uniform(0.1, 0.9, size=(int(rng.integers(2, 6)), 2)) * size).astype(np.int32)
        cv2.polylines(layer, [pts], bool(rng.random() < 0.6), accent(rng, palette),
                      px(size, rng.uniform(0.005, 0.015)), cv2.LINE_AA)
    glow = cv2.GaussianBlur(layer, (0, 0), size * 0.02)
    cv2.add(img, glow, dst=img)
    cv2.add(img, glow, dst=img)
    cv2.add(img, layer, dst=img)


def _collage(rng, img, palette):
    # Torn-out rectangles of "photocopied" material with black edges, punk style.
    size = img.shape[0]
    for _ in range(int(rng.integers(3, 7))):
        box = ((float(rng.uniform(0.1, 0.9) * size), float(rng.uniform(0.1, 0.9) * size)),
               (float(rng.uniform(0.15, 0.5) * size), float(rng.uniform(0.1, 0.4) * size)),
               float(rng.uniform(-30, 30)))
        corners = cv2.boxPoints(box).astype(np.int32)
        mask = np.zeros(img.shape[:2], dtype=np.uint8)
        cv2.fillPoly(mask, [corners], 255)
        if rng.random() < 0.5:
            patch = (smooth_noise(rng, size, int(rng.integers(4, 16))) * 255).astype(np.uint8)
            img[mask > 0] = np.repeat(patch, 3, axis=2)[mask > 0]
        else:
            img[mask > 0] = np.asarray(any_colour(rng, palette)).astype(np.uint8)
        cv2.polylines(img, [corners], True, (10, 10, 10), px(size, 0.006))


def _portrait(rng, img, palette):
    # Head-and-shoulders silhouette: the most common cover motif of all.
    size = img.shape[0]
    cx = int(size * rng.uniform(0.35, 0.65))
    head_y = int(size * rng.uniform(0.3, 0.5))
    head = px(size, rng.uniform(0.1, 0.17))
    colour = accent(rng, palette) if rng.random() < 0.5 else palette[1]
    # Bust: rounded shoulders running off the bottom edge, a neck, a head.
    shoulder_y, half_width = head_y + int(head * 2.7), int(head * rng.uniform(2.0, 2.6))
    cv2.ellipse(img, (cx, shoulder_y), (half_width, int(head * 1.3)), 0, 180, 360, colour, -1, cv2.LINE_AA)
    cv2.rectangle(img, (cx - half_width, shoulder_y), (cx + half_width, size), colour, -1)
    cv2.rectangle(img, (cx - int(head * 0.4), head_y), (cx + int(head * 0.4), shoulder_y), colour, -1)
    cv2.ellipse(img, (cx, head_y), (int(head * 0.85), head), 0, 0, 360, colour, -1, cv2.LINE_AA)
    if rng.random() < 0.5:  # rim light
        cv2.ellipse(img, (cx, head_y), (int(head * 0.85), head), 0, -100, 60,
                    accent(rng, palette), px(size, 0.008), cv2.LINE_AA)


def _foliage(rng, img, palette):
    # Simple trees and leaves along the bottom: folk's rural imagery.
    size = img.shape[0]
    for _ in range(int(rng.integers(2, 9))):
        x = rng.uniform(0, 1) * size
        base = rng.uniform(0.7, 1.05) * size
        height = rng.uniform(0.15, 0.45) * size
        width = height * rng.uniform(0.25, 0.5)
        tree = np.array([[x, base - height], [x - width, base], [x + width, base]], np.int32)
        cv2.fillPoly(img, [tree], accent(rng, palette), cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 8))):
        cv2.ellipse(img, point(rng, size), (px(size, 0.04), px(size, 0.015)),
                    float(rng.uniform(0, 180)), 0, 360, accent(rng, palette), -1, cv2.LINE_AA)


def _band(rng, img, palette):
    # A row of standing figures: the band photo of a thousand rock records.
    size = img.shape[0]
    colour = palette[1] if rng.random() < 0.6 else accent(rng, palette)
    n_people = int(rng.integers(2, 6))
    for i in range(n_people):
        cx = size * (i + 0.5 + rng.uniform(-0.15, 0.15)) / n_people
        head = size * rng.uniform(0.035, 0.05)
        top = size * rng.uniform(0.45, 0.6)
        cv2.circle(img, (int(cx), int(top)), int(head), colour, -1, cv2.LINE_AA)
        cv2.rectangle(img, (int(cx - head * 1.4), int(top + head)), (int(cx + head * 1.4), size), colour, -1)


def _label_box(rng, img, palette):
    # A black-and-white warning-label box in a corner, as on many rap records.
    size = img.shape[0]
    w, h = px(size, 0.22), px(size, 0.13)
    x0 = px(size, 0.03) if rng.random() < 0.3 else size - w - px(size, 0.03)
    y0 = size - h - px(size, 0.03)
    cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), (0, 0, 0), -1)
    cv2.rectangle(img, (x0, y0 + h // 3), (x0 + w, y0 + 2 * h // 3), (255, 255, 255), -1)
    scale = size / 350 * 0.45
    cv2.putText(img, random_word(rng, 8, 9).upper(), (x0 + 3, y0 + h // 3 - 4),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(img, random_word(rng, 8, 9).upper(), (x0 + 3, y0 + 2 * h // 3 - 4),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)


def _none(rng, img, palette):
    return None


MOTIFS = {
    "circles": _circles, "blocks": _blocks, "polygons": _polygons,
    "stripes": _stripes, "thin_lines": _thin_lines, "spikes": _spikes,
    "cracks": _cracks, "neon": _neon, "concentric": _concentric,
    "collage": _collage, "portrait": _portrait, "rays": _rays,
    "foliage": _foliage, "confetti": _confetti, "horizon_sun": _horizon_sun,
    "band": _band, "frame": _frame, "label_box": _label_box, "none": _none,
}
