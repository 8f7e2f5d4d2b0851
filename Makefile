# Parsimony: `make repro` regenerates every result, `make test` checks everything.
# Both create .venv on first use (pip; torch pinned to the CPU wheel) and reuse it after.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
# Debian packages the pipeline needs (installed with apt-get when missing).
APT_PACKAGES ?= espeak-ng
export PATH := $(CURDIR)/$(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1
export PYTHONHASHSEED := 0
# pytest workers for the unit tests and notebooks (0 = serial); each worker gets one BLAS /
# PyTorch thread, so that JOBS workers do not oversubscribe the cores (OpenMP threads spin)
JOBS ?= 2
WORKER_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

.PHONY: all repro test lint format unit notebooks data lab bench hooks system clean help \
	filters check-defaults test-browser browser-system
all: test

help:
	@echo "make repro   - set up .venv if needed, build data/, run dvc repro"
	@echo "make test    - set up .venv if needed, ruff + unit tests + notebooks (nbval)"
	@echo "make lab     - open the notebooks in JupyterLab"
	@echo "make check-defaults - time every notebook at its defaults (budget 30 s each)"
	@echo "make test-browser   - run one notebook in JupyterLab in headless Chromium"
	@echo "make bench   - run the speed benchmarks (ours vs the peer, same run)"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "apt-get install$$missing"; $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	fi

# notebooks reach git stripped of outputs and kernel metadata (.gitattributes: filter=nbclean)
filters:
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && \
	  [ "$$(git config --get filter.nbclean.clean)" != "tools/python tools/nbclean.py %f" ]; then \
	  git config filter.nbclean.clean "tools/python tools/nbclean.py %f"; \
	  echo "git filter nbclean registered (.git/config)"; fi

venv: $(STAMP) system filters

data: venv
	$(PY) -m parsimony.data build

repro: data
	$(BIN)/dvc repro

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: data
	$(WORKER_ENV) $(BIN)/pytest -q -n $(JOBS) tests lib/parsimony

notebooks: data
	$(WORKER_ENV) $(BIN)/pytest -q -p no:cacheprovider -n $(JOBS) --dist loadfile --nbval-lax notebooks/

test: lint unit notebooks

# JupyterLab at the repository root (results/ browsable), inline figures (no MPLBACKEND),
# the stages' thread settings; --allow-root where the user is root (containers); saving a
# notebook writes its committed form (tools/jupyter_server_config.py). LAB_ARGS passes
# more options, e.g. `make lab LAB_ARGS="--no-browser --port 8890"`.
LAB_EXTRA := $(VENV)/.lab-installed
$(LAB_EXTRA): $(STAMP)
	@$(BIN)/jupyter-lab --version >/dev/null 2>&1 || $(PY) -m pip install -q --disable-pip-version-check -e '.[lab]'
	@touch $(LAB_EXTRA)

lab: data $(LAB_EXTRA)
	env -u MPLBACKEND $(WORKER_ENV) $(BIN)/jupyter-lab --notebook-dir=. \
	  --config=tools/jupyter_server_config.py \
	  $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) $(LAB_ARGS)

# seconds of every notebook at its defaults (papermill, 1 thread); lists those over 30 s.
# Not part of `make test` (timings are not tests). NOTEBOOKS=path.ipynb times only those.
check-defaults: data
	$(PY) tools/check_defaults.py $(NOTEBOOKS)

# one notebook run through JupyterLab's UI in headless Chromium (tests/browser/);
# screenshots in results/.browser/ (git-ignored)
BROWSER_APT ?= chromium chromium-driver
browser-system:
	@$(MAKE) --no-print-directory system APT_PACKAGES="$(BROWSER_APT)"

test-browser: data $(LAB_EXTRA) browser-system
	env -u MPLBACKEND PARSIMONY_BROWSER=1 $(BIN)/pytest -q -p no:cacheprovider tests/browser

bench: venv
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

hooks: venv
	$(BIN)/pre-commit install

clean:
	rm -rf results/.interactive results/.failed .pytest_cache
