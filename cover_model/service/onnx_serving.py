"""Serving a run's network without torch: its ONNX export and an onnxruntime predictor.

    python -m cover_model export-onnx checkpoints/real-covers      # writes model.onnx beside it
    python -m cover_model.service.onnx_serving checkpoints/real-covers cover.jpg  # top-3, torch never imported

The exported graph is the run's whole network, normalisation included, ending in
class probabilities; the run's class names, input side and downsizing method
travel inside the file as metadata, so ``model.onnx`` alone is enough to predict.
A cover reaches it through :func:`cover_model.data.images.cover_input`, the same function
the torch :class:`~cover_model.networks.predict.Predictor` uses, so both see identical pixels.

Importing this module imports numpy, OpenCV and Pillow (the decoder and
the downsizing step), never torch: a light image serves predictions with
onnxruntime (about 78 MB) instead of torch. Grad-CAM needs gradients, so it stays
with torch. Exporting needs torch, onnx and onnxscript, imported only by
:func:`export_onnx`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

import numpy as np

from ..networks.answers import GenrePredictor, print_top_k
from ..networks.runs import Run

INPUT_NAME, OUTPUT_NAME = "image", "probabilities"
_META = "cover_model."          # prefix of the metadata keys this module writes


class OnnxModelError(ValueError):
    """An ONNX file is missing, unreadable, or was not written by :func:`export_onnx`."""


class OnnxPredictor(GenrePredictor):
    """A run's network on onnxruntime, with the run's preprocessing; read-only once built.

    Offers what :class:`~cover_model.networks.predict.Predictor` offers for prediction
    (both are :class:`GenrePredictor`: ``probabilities``, ``top_k``), not Grad-CAM, which
    needs torch's gradients. ``path``: the ONNX file.
    """

    def __init__(self, session, *, class_names, input_px: int, method: str, path=None):
        super().__init__(class_names=class_names, input_px=input_px, method=method)
        self.session, self.path = session, path

    @classmethod
    def from_run(cls, run_dir) -> "OnnxPredictor":
        """The predictor of a run's ONNX export (written by ``export-onnx``)."""
        return cls.from_file(Run(run_dir).onnx_file)

    @classmethod
    def from_file(cls, path) -> "OnnxPredictor":
        """The predictor of one exported ONNX file.

        Raises
        ------
        OnnxModelError
            No such file, not an ONNX model, or one without this project's metadata.
        """
        path = Path(path)
        if not path.is_file():
            raise OnnxModelError(f"{path}: no ONNX model; write it with "
                                 f"python -m cover_model export-onnx {path.parent}")
        session = _session(path)
        meta = session.get_modelmeta().custom_metadata_map
        try:
            return cls(session, class_names=json.loads(meta[_META + "class_names"]),
                       input_px=int(meta[_META + "input_px"]), method=meta[_META + "preprocess"],
                       path=path)
        except (KeyError, ValueError) as exc:
            raise OnnxModelError(f"{path}: not exported by cover_model (no {exc} metadata); "
                                 "export it with python -m cover_model export-onnx") from None

    def probabilities(self, image) -> np.ndarray:
        """Class probabilities of shape (n_classes,), float32."""
        # onnxruntime's run() may be called from several threads at once: no lock needed.
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: self.prepare(image)})[0][0]



def _session(path: Path):
    import onnxruntime as ort
    options = ort.SessionOptions()
    # Threads that spin while waiting lose time when another process holds a core, as
    # OpenMP's do (runtime.py); onnxruntime spins by default. Shipped model, 2 cores at a
    # load of 3: 30.7 ms per cover without spinning, 35.1 ms with.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:     # onnxruntime raises its own Fail/InvalidProtobuf types
        raise OnnxModelError(f"{path}: not a usable ONNX model ({str(exc)[:200]})") from None


# --- export (needs torch, onnx and onnxscript) ------------------------------------------

_export_lock = threading.Lock()      # torch.export traces one model at a time per process


def export_onnx(run_dir, out=None, *, weights: str = "best") -> Path:
    """Write a run's network, ending in probabilities, as one ONNX file.

    Parameters
    ----------
    run_dir : path
        A finished run folder (the shipped model's included).
    out : path, optional
        Where to write (default: ``run_dir/model.onnx``).
    weights : str, default="best"
        Which weights of the run.

    Returns
    -------
    Path
        The file written, atomically; its metadata holds the class names, the input
        side and the downsizing method.

    Raises
    ------
    RunError
        Not a finished run folder, or weights that do not fit its network.
    """
    import torch
    run = Run(run_dir)
    out = Path(out) if out else run.onnx_file
    args = run.model_args()
    network = torch.nn.Sequential(run.load_model(weights=weights), torch.nn.Softmax(dim=1))
    example = torch.rand(1, 3, args.input_px, args.input_px)
    with _export_lock:
        program = torch.onnx.export(
            network.eval(), (example,), dynamo=True, input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME], dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False)
    program.model.metadata_props.update(_metadata(run, weights))
    _save_atomically(program, out)
    return out


def _metadata(run: Run, weights: str) -> dict[str, str]:
    args = run.model_args()
    return {_META + "class_names": json.dumps(list(args.class_names)),
            _META + "input_px": str(args.input_px),
            _META + "preprocess": run.train_config().preprocess,
            _META + "arch": args.arch,
            _META + "run": f"{run.path.resolve().name}/{weights}"}    # a name, not a server path


def _save_atomically(program, out: Path) -> None:
    # ONNXProgram.save wants a path, so files.atomic_write's handle cannot be used.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}-{os.getpid()}")
    try:
        program.save(tmp, external_data=False)      # one file: weights inside (19 MB shipped)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


# --- a torch-free command line, for the light image ----------------------------------

def main(argv: list[str] | None = None) -> int:
    """``python -m cover_model.service.onnx_serving MODEL cover.jpg [...]``: top genres, without torch.

    The package's own CLI (``python -m cover_model``) imports torch at start-up, so
    the light image runs this one.
    """
    parser = argparse.ArgumentParser(prog="python -m cover_model.service.onnx_serving",
                                     description="Top genres of covers with an exported ONNX "
                                                 "model (no torch needed).")
    parser.add_argument("model", type=Path, help="a run folder holding model.onnx, or an .onnx file")
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--k", type=int, default=3, help="how many genres (default: 3)")
    args = parser.parse_args(argv)
    try:
        predictor = (OnnxPredictor.from_run(args.model) if args.model.is_dir()
                     else OnnxPredictor.from_file(args.model))
    except OnnxModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return print_top_k(predictor, args.images, k=args.k)


if __name__ == "__main__":
    sys.exit(main())
