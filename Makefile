# One-command set-up for a fresh machine: `make serve` (the dashboard) and `make test` (the quick suite; `make test-all` adds the slow tests).
# Everything installs into ./.venv and ./node_modules; system packages come from apt when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKSPACE ?= .
DATASET ?= auto
PORT ?= 8050
APT := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo apt-get)

.PHONY: setup python-deps js-deps data browser serve test test-all test-js bench lint docs docs-check clean-env

setup: python-deps js-deps

python-deps: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# npm's postinstall copies the browser builds into static/vendor/ (gitignored).
js-deps: static/vendor/versions.json
static/vendor/versions.json: package.json package-lock.json tools/copy-vendor.mjs
	npm ci --no-audit --no-fund
	touch $@

# Real data that works offline: Debian's Fashion-MNIST. MNIST itself is downloaded by the
# dashboard when online (or read from --data-dir); the page always says which one it shows.
data:
	@[ -d /usr/share/datasets/fashion-mnist ] || ! command -v apt-get >/dev/null || \
	  { $(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq dataset-fashion-mnist; }

browser:
	@[ -x /usr/bin/chromium ] || { $(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq chromium; }

serve: setup data
	$(BIN)/alctl serve --workspace $(WORKSPACE) --dataset $(DATASET) --port $(PORT)

# The suite to run often: everything but the tests marked slow (storms, kill -9, fuzzing,
# endurance, restarts). `make test-all` adds those; CI runs it.
test: setup data browser test-js
	$(BIN)/python -m pytest -m "not slow"

test-all: test
	$(BIN)/python -m pytest -m slow

# The page's pure modules, with Node's built-in test runner (no extra dependency).
test-js:
	node --test tests/js/

bench: setup data browser
	$(BIN)/python benchmarks/run_all.py

lint: python-deps docs-check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# docs/cli.md is generated from the programs' --help; `make docs` rewrites it after a help change.
docs: python-deps
	$(BIN)/python tools/cli_reference.py

docs-check: python-deps
	$(BIN)/python tools/cli_reference.py --check

clean-env:
	rm -rf $(VENV) node_modules static/vendor
