# Two commands on a fresh machine:  make demo  |  make test
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# torch on CPU is ~3x faster with these (see cover_model/runtime.py); every target inherits them.
export GLIBC_TUNABLES := glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: setup demo public-demo test bench images clean

setup: $(STAMP)

# Reinstalls only when a requirements file changes: requirements.txt (development) includes
# requirements-serve.txt (the dashboard), which includes requirements-light.txt (ONNX only).
# torch first, from the pins in requirements-serve.txt, so no other package can pull a
# different torch.
$(STAMP): requirements.txt requirements-serve.txt requirements-light.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet $$(grep -E '^(torch|torchvision)==' requirements-serve.txt)
	$(PYTHON) -m pip install --quiet -r requirements.txt
	touch $@

demo: setup
	$(PYTHON) -m cover_model dashboard

# The dashboard as the container serves it, on this machine: public mode's limits.
public-demo: setup
	$(PYTHON) -m cover_model dashboard --public

# Three workers share the two cores with the servers, browsers and jobs the tests start: one
# torch/BLAS thread per process spares them the oversubscription. Whole files go to a worker
# in the order tests/conftest.py puts them (the longest first), not by test count. Compiled
# modules are cached (__pycache__, git-ignored) even where the environment says not to
# (PYTHONDONTWRITEBYTECODE): else each worker compiles the package and rewrites every test.
test: setup
	PYTHONDONTWRITEBYTECODE= OMP_NUM_THREADS=1 $(PYTHON) -m pytest -n 3 --dist loadfile --no-loadscope-reorder --durations=15

bench: setup
	$(PYTHON) bench/bench_preprocess.py

# Both container images built and run on this machine, without Docker (buildah, as root;
# about 15 minutes on 2 cores), and their figures (docs/hosting.md). Not part of make test.
images: setup
	scripts/build-images.sh

clean:
	rm -rf data/cache data/imports .pytest_cache
