# The two commands of the README. Both set up .venv on first use (pinned set from
# constraints.txt, the package editable), so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat constraints.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: book test setup lint unit smoke nbval browser browser-test execute readme lock clean

book: setup
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "The book is in _build/html: open _build/html/index.html"

test: setup lint unit smoke nbval browser-test

# ruff (lint, import order) and mypy, as configured in pyproject.toml: a finding fails the build.
lint: setup
	$(BIN)/ruff check backbones_tutorial tests tools
	$(BIN)/mypy backbones_tutorial

# The unit tests: fast (a minute on 2 cores), no browser, no end-to-end runs of the commands.
unit: setup
	$(BIN)/pytest -m "not browser and not smoke" tests

# End-to-end runs of the command line (the benchmark's --quick run, with its memory probes).
smoke: setup
	$(BIN)/pytest -m smoke tests

# Strict: every stored output of every chapter is compared with a fresh run.
nbval: setup
	$(BIN)/pytest --nbval --nbval-current-env --nbval-cell-timeout=300 book

# The rendered book in headless Chromium (tests/test_browser.py): builds the book into a temporary
# folder, checks every page of _toc.yml and the search page, writes _build/screenshots/.
# Skipped, with the reason printed (-rs), where Chromium or Playwright is missing.
browser-test: setup browser
	$(BIN)/pytest -rs -m browser tests/test_browser.py

# The system Chromium that Playwright drives (never a downloaded browser). Best effort: without
# apt or root it only says so, and the browser test is then skipped rather than failed.
browser:
	@test -x /usr/bin/chromium || command -v chromium >/dev/null 2>&1 \
	  || (DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) \
	  || echo "could not install chromium (needs apt-get and root): the browser test will be skipped"

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
	rm -rf _build
