# Cover Genre Lab on CPU, served to strangers (public mode). Two images from this file:
#
#   docker build -t cover-lab .                       # the dashboard (the last stage, the default)
#   docker run -p 8501:8501 -v cover-lab:/var/lib/cover-lab cover-lab
#
#   docker build --target light -t cover-lab:light .  # top genres from ONNX, no torch
#   docker run --rm -v "$PWD:/covers:ro" cover-lab:light /covers/cover.jpg
#
# The project is copied read-only and owned by root; the server runs as an unprivileged
# user and writes only to /var/lib/cover-lab (data, caches, uploads, training runs).
# docs/hosting.md: what each image offers, the settings, streamlit run on other hosts.
# tests/test_container.py runs the dashboard's command as this file sets it up.
#
# Build arguments; their defaults are the public build above:
#   BASE_IMAGE      any Debian-based image with python3 and its venv module
#                   (scripts/build-images.sh makes one from Debian's packages)
#   TORCH_PIP_ARGS  where pip finds torch and torchvision: the PyTorch CPU index
#   EXTRA_PIP_ARGS  pip options added to every pip install (a mirror, a certificate): none
# scripts/build-images.sh builds and runs both images on a machine without Docker,
# passing its own values with --build-arg and its local package folders with --volume.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS base
# Python's packages go in a virtual environment put first on PATH, so that `python` and
# `pip` are the same commands on any base (Debian's own Python has `python3` only).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python3 -m venv /opt/venv \
    && useradd --system --uid 10001 --create-home --home-dir /home/app app \
    && mkdir -p /var/lib/cover-lab/data /var/lib/cover-lab/checkpoints \
    && chown -R app:app /var/lib/cover-lab
WORKDIR /app


# --- torch and the dashboard's requirements (no test tools) -----------------------------
FROM base AS torch
ARG TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
ARG EXTRA_PIP_ARGS=""
COPY requirements-serve.txt requirements-light.txt ./
# torch first, alone: by default the CPU wheels of the pinned versions from the PyTorch
# CPU index: about 0.8 GB installed, against 5.5 GB for the CUDA build and its nvidia
# packages (PyPI's torch on Linux, which the development machines install from their
# disk; docs/hosting.md, Sizes). The pins in requirements-serve.txt then find it.
RUN pip install $EXTRA_PIP_ARGS $TORCH_PIP_ARGS \
        $(grep -E '^(torch|torchvision)==' requirements-serve.txt) \
    && pip install $EXTRA_PIP_ARGS -r requirements-serve.txt


# --- the shipped model as ONNX, for the light image (export needs torch) -----------------
FROM torch AS onnx-export
ARG EXTRA_PIP_ARGS=""
COPY requirements.txt ./
RUN pip install $EXTRA_PIP_ARGS $(grep -E '^(onnx|onnxscript)==' requirements.txt)
COPY . /app
RUN python -m cover_model export-onnx checkpoints/real-covers --out /export/real-covers.onnx


# --- light: the shipped model's top genres on onnxruntime; no torch, no dashboard --------
FROM base AS light
ARG EXTRA_PIP_ARGS=""
COPY requirements-light.txt ./
RUN pip install $EXTRA_PIP_ARGS -r requirements-light.txt
COPY cover_model /app/cover_model
COPY --from=onnx-export /export/real-covers.onnx /app/models/real-covers.onnx
RUN python -m compileall -q /app && chmod -R a-w /app
USER app
ENTRYPOINT ["python", "-m", "cover_model.service.onnx_serving", "/app/models/real-covers.onnx"]
CMD ["--help"]


# --- the dashboard, public mode (the default image) --------------------------------------
FROM torch AS dashboard
COPY . /app
# Bytecode compiled now, as root: at run time the app user cannot (and need not) write here.
RUN python -m compileall -q /app && chmod -R a-w /app
ENV COVER_LAB_PUBLIC=1 \
    COVER_LAB_DATA=/var/lib/cover-lab/data \
    COVER_LAB_CHECKPOINTS=/var/lib/cover-lab/checkpoints \
    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
    OMP_WAIT_POLICY=PASSIVE
USER app
# The embedded synthetic covers, generated at build time (about 10 s) so no visitor waits
# for them. A new named volume starts as a copy of this folder; a bind mount does not,
# and there the first launch generates them, with a progress bar.
RUN python -m cover_model synth
VOLUME /var/lib/cover-lab
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"]
CMD ["python", "-m", "cover_model", "dashboard", "--public", "--address", "0.0.0.0", "--port", "8501"]
