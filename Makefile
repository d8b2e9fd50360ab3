# Two commands on a fresh machine:  make demo  |  make test
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# torch on CPU is ~3x faster with these (see cover_model/runtime.py); every target inherits them.
export GLIBC_TUNABLES := glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: setup demo test bench clean

setup: $(STAMP)

# Reinstalls only when requirements.txt changes. torch first, from the pins in
# requirements.txt, so no other package can pull a different torch.
$(STAMP): requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet $$(grep -E '^(torch|torchvision)==' requirements.txt)
	$(PYTHON) -m pip install --quiet -r requirements.txt
	touch $@

demo: setup
	$(PYTHON) -m cover_model dashboard

test: setup
	$(PYTHON) -m pytest

bench: setup
	$(PYTHON) bench/bench_preprocess.py

clean:
	rm -rf data/cache data/imports .pytest_cache
