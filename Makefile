# The two commands of the README. Both set up .venv on first use (pinned set from
# constraints.txt, the package editable), so a fresh clone needs nothing else.
PYTHON ?= python3

# Where the environment sets PYTHONDONTWRITEBYTECODE=1 (this project's machines do), every process
# compiles the modules it imports afresh: each test worker, chapter kernel and memory probe paid
# about 19 s for `import torch, torchvision, matplotlib.pyplot` instead of 7 s. The venv's own
# __pycache__ folders (git-ignored) cache the bytecode instead, written by the first import.
unexport PYTHONDONTWRITEBYTECODE
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat constraints.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: book test check test-compilers quick prereqs-book prereqs-test setup lint unit smoke nbval browser browser-test mathjax execute readme lock clean

# --all: with no page out of date Sphinx skips copying _static, so an edited book.css or book.js
# would not reach _build/html; every page is written again instead (the stored outputs, not run).
book: prereqs-book setup mathjax
	$(BIN)/jupyter-book build . --all --warningiserror --keep-going
	@echo "The book is in _build/html: open _build/html/index.html"

# Everything but the compiler cells (test-compilers, which CI runs after this): lint, the unit
# tests, the end-to-end runs and every chapter in one pytest run (check), and the browser test,
# the three at once. On 2 cores check keeps both busy, but mypy uses one and the browser test
# leaves most of one idle (Chromium waits on every page): run one after the other, the three took
# 413 s from a fresh clone here, setup included. -O prints each one's output in one piece.
test: prereqs-test setup browser mathjax
	$(MAKE) --no-print-directory -j3 -O lint check browser-test

# For contributors, while working (CONTRIBUTING.md): lint and the unit tests that are not marked
# slow; no browser, no chapters, no end-to-end runs. make test runs everything.
quick: setup lint
	$(BIN)/pytest -q -rs $(XDIST) --dist loadfile -m "not browser and not smoke and not compilers and not slow" tests

# Checked first, before anything is installed, with one message per missing prerequisite (the
# README lists them): Python 3.10+ with venv, npm unless MathJax is unpacked, and for the tests
# Chromium or apt-get run as root to install it. See tools/prereqs.sh.
prereqs-book prereqs-test:
	@PYTHON="$(PYTHON)" MATHJAX_STAMP="$(MATHJAX_DIR)/.version-$(MATHJAX_VERSION)" sh tools/prereqs.sh $(@:prereqs-%=%)

# ruff (lint, import order) and mypy, as configured in pyproject.toml: a finding fails the build.
lint: setup
	$(BIN)/ruff check backbones_tutorial tests tools
	$(BIN)/mypy backbones_tutorial

# The test steps run on every core (pytest-xdist), each worker with one torch thread: on 2 cores
# that is about 1.4x faster than one process with two threads (two workers with two threads each
# are no faster at all). JOBS=0 runs them in one process; OMP_NUM_THREADS=1 applies to both.
JOBS  ?= auto
XDIST := -n $(JOBS)
export OMP_NUM_THREADS ?= 1

# unit, smoke and nbval in one pytest run, as make test runs them: the workers start once and the
# chapters fill the gaps the test files leave. A test file and a chapter each stay on one worker
# (loadfile): a file's module-scoped fixtures are built once, a chapter's cells run in order in
# one kernel. Strict nbval: every stored output of every chapter is compared with a fresh run.
NBVAL := --nbval --nbval-current-env --nbval-cell-timeout=300
check: setup
	$(BIN)/pytest -rs $(XDIST) --dist loadfile --durations=15 -m "not browser and not compilers" $(NBVAL) tests book

# The unit tests alone: no browser, no end-to-end runs, no compiler cells.
unit: setup
	$(BIN)/pytest -rs $(XDIST) --dist loadfile -m "not browser and not smoke and not compilers" tests

# End-to-end runs of the command line (the benchmark's --quick run, with its memory probes).
smoke: setup
	$(BIN)/pytest -rs $(XDIST) --dist load -m smoke tests

# The chapters alone, strict.
nbval: setup
	$(BIN)/pytest $(XDIST) --dist loadfile $(NBVAL) book

# The torch.compile and ONNX cells of both compatibility matrices (chapters 6 and 7) on small
# models, spread over the workers test by test: each compiles for tens of seconds to minutes on
# 2 cores (Swin's dynamic recompile the longest). Not in make test, to keep it short; .ci/run
# runs it after make test, so CI checks every cell the chapters show.
test-compilers: setup
	$(BIN)/pytest -rs $(XDIST) --dist load -m compilers tests

# The rendered book in headless Chromium (tests/test_browser.py): builds the book into a temporary
# folder, checks every page of _toc.yml at 390 and 1280 px in light and dark (overflow, tables,
# math, captions, the phone menu, no console message, no request off 127.0.0.1) and the search
# page, writes _build/screenshots/. Needs MathJax unpacked (the mathjax target). One process: the
# time goes to Chromium rendering the pages, and two workers on 2 cores were no faster.
# Skipped, with the reason printed (-rs), where Chromium or Playwright is missing.
browser-test: setup browser mathjax
	$(BIN)/pytest -rs -p no:cacheprovider -m browser tests/test_browser.py

# The system Chromium that Playwright drives (never a downloaded browser). Best effort: without
# apt or root it only says so, and the browser test is then skipped rather than failed.
browser:
	@test -x /usr/bin/chromium || command -v chromium >/dev/null 2>&1 \
	  || (DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) \
	  || echo "could not install chromium (needs apt-get and root): the browser test will be skipped"

# MathJax 3, served with the book so that its math renders offline: the npm package (a pinned
# version, checked against its npm integrity hash by npm itself), unpacked into _vendor/mathjax
# (git-ignored). Only the files the pages load: the TeX-to-CHTML bundle, its fonts, and the
# components it may load on demand (TeX extensions, menu, accessibility).
MATHJAX_VERSION := 3.2.2
MATHJAX_DIR     := _vendor/mathjax
mathjax: $(MATHJAX_DIR)/.version-$(MATHJAX_VERSION)

$(MATHJAX_DIR)/.version-$(MATHJAX_VERSION):
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed to install MathJax (apt-get install npm)"; exit 1; }
	rm -rf $(MATHJAX_DIR) .mathjax-tmp && mkdir -p .mathjax-tmp $(MATHJAX_DIR)/output/chtml/fonts $(MATHJAX_DIR)/input/tex
	cd .mathjax-tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null && tar xzf mathjax-$(MATHJAX_VERSION).tgz
	cp .mathjax-tmp/package/LICENSE .mathjax-tmp/package/es5/tex-chtml.js $(MATHJAX_DIR)/
	cp -r .mathjax-tmp/package/es5/output/chtml/fonts/woff-v2 $(MATHJAX_DIR)/output/chtml/fonts/
	cp -r .mathjax-tmp/package/es5/input/tex/extensions $(MATHJAX_DIR)/input/tex/
	cp -r .mathjax-tmp/package/es5/ui .mathjax-tmp/package/es5/a11y $(MATHJAX_DIR)/
	rm -rf .mathjax-tmp
	touch $@

# Re-execute the chapters in place after changing them or the package (NB=book/xx.ipynb for one).
execute: setup
	$(BIN)/python tools/execute_notebooks.py $(NB)

# Copy the committed benchmark results (book/data/bench.json) into the README's table.
readme: setup
	$(BIN)/python tools/readme_bench.py

setup: $(STAMP)

$(STAMP): constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -c constraints.txt -e '.[book,test]'  # no .pyc for all of torch: Python compiles what it imports
	rm -f $(VENV)/.installed-*
	touch $@

# Re-pin the tested set after changing a range in pyproject.toml.
lock: setup
	(echo "# The tested set: make and environment.yml install exactly these. Regenerate with 'make lock'."; \
	 $(BIN)/python -m pip freeze --exclude-editable | grep -v '^backbones-tutorial') > constraints.txt

clean:
	rm -rf _build $(MATHJAX_DIR)
