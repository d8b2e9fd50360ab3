"""Files the browser tests upload: made here, never real album art."""
from pathlib import Path

from cover_model.synth import render_cover


def write_cover(path: Path, genre: str = "metal") -> Path:
    """A synthetic cover as a JPEG file."""
    import cv2
    rgb = render_cover(genre, seed=123, index=7)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path
