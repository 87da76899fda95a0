# MLLM Interview Handbook · 多模态大模型面试手册
# Two commands on a fresh clone: `make serve` and `make test`. Both bootstrap .venv from requirements.lock.

PYTHON ?= python3
# Material 9.x prints an end-of-life banner on every build; the README says where the project stands on it.
export NO_MKDOCS_2_WARNING := 1
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
# The bootstrap stamp is keyed on the lock's content: an unchanged lock makes the bootstrap a no-op.
LOCK_HASH := $(shell $(PYTHON) -c "import hashlib;print(hashlib.sha256(open('$(LOCK)','rb').read()).hexdigest()[:16])")
STAMP  := $(VENV)/.bootstrap-$(LOCK_HASH)
CHROMIUM ?= /usr/bin/chromium
SITE   ?= site

.PHONY: help venv serve build test lint bench browser clean distclean new-page translated stale

help:
	@echo "make serve   - set up .venv and serve the site at http://127.0.0.1:8000/"
	@echo "make test    - set up .venv, lint, run every test and a strict build (empty exec cache)"
	@echo "make build   - strict build into ./$(SITE)"
	@echo "make bench   - print build/test timings and sizes (never fails on a number)"
	@echo "make clean   - remove build output and caches (keeps .venv); distclean also drops .venv"

venv: $(STAMP)

$(STAMP):
	@$(PYTHON) -c "import sys; sys.exit(0 if sys.version_info >= (3, 10) else 'Python 3.10+ is required, found ' + sys.version)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r $(LOCK)
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.bootstrap-*
	@touch $@

# A browser for the Playwright tests: Debian's Chromium where it exists, else Playwright's own download.
browser: $(STAMP)
	@if [ -x "$(CHROMIUM)" ]; then echo "browser: using $(CHROMIUM)"; \
	else echo "browser: $(CHROMIUM) not found, installing Playwright's Chromium"; $(BIN)/python -m playwright install chromium; fi

serve: $(STAMP)
	HANDBOOK_EXEC_CACHE=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

build: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir $(SITE)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) browser lint
	HANDBOOK_EXEC_CACHE=0 $(BIN)/python -m pytest --cov --cov-report=term

bench: $(STAMP)
	$(BIN)/python -m handbook_site.bench

new-page: $(STAMP)
	$(BIN)/python -m handbook_site.scaffold "$(SECTION)" "$(SLUG)"

translated: $(STAMP)
	$(BIN)/python -m handbook_site.freshness --update $(PAGE)

stale: $(STAMP)
	$(BIN)/python -m handbook_site.freshness --report

clean:
	rm -rf $(SITE) .cache artifacts .pytest_cache .ruff_cache .coverage .coverage.* htmlcov
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
