# Loomis: `make demo` (install + a painting-process video of a bundled image) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
EXTRAS ?= train,metrics,data,studio,dev
STAMP   = $(VENV)/.installed-$(EXTRAS)
HOOK    = $(VENV)/.loomis-torchvision-hook

# Also honoured inside packages' isolated build environments (a plain -c is not).
export PIP_CONSTRAINT := $(abspath constraints.txt)

.PHONY: install test test-all lint format demo bench bench-gpu clean

install: $(STAMP) $(HOOK)

# constraints.txt pins torch to the CPU wheel here; see README "GPU clusters" for CUDA builds.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -c constraints.txt torch
	$(PIP) install -q -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

# torchvision on CPU-only torch: a start-up hook (loomis-torchvision.pth in site-packages) makes
# `import torchvision/lpips/peft` work in any script run with this venv (docs/stack-facts.md).
$(HOOK): $(STAMP) loomis/compat.py
	$(PY) -c "import loomis.compat as c; print('installed', c.install_pth())"
	touch $@

test: install
	$(PY) -m pytest -q -m "not slow"

test-all: install
	$(PY) -m pytest -q

lint: install
	$(PY) -m ruff check loomis train infer dataset_tools evaluate studio tests bench
	$(PY) -m ruff format --check loomis train infer dataset_tools evaluate studio tests bench

format: install
	$(PY) -m ruff format loomis train infer dataset_tools evaluate studio tests bench
	$(PY) -m ruff check --fix loomis train infer dataset_tools evaluate studio tests bench

demo: install
	mkdir -p demo_out
	$(VENV)/bin/loomis-paint "$$($(PY) -m loomis.samples grace_hopper)" --medium oil -o demo_out/demo.mp4 --sheet
	@echo "demo: wrote demo_out/demo.mp4, demo_out/demo.mp4.json and demo_out/demo.mp4.sheet.png"

bench: install
	mkdir -p bench/results
	$(PY) -m bench.run --out bench/results

# On a GPU machine (CUDA torch; diffusers carried as wheels if missing: docs/inference.md). Needs no
# install: it runs from the checkout. ARGS=--rehearse rehearses every section at toy size on a CPU.
GPU_PYTHON ?= $(if $(wildcard $(PY)),$(PY),python3)
bench-gpu:
	mkdir -p bench/results
	$(GPU_PYTHON) bench/gpu.py $(ARGS)

clean:
	rm -rf demo_out .pytest_cache
