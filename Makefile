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
# `make serve LANG=en` previews English; LANG is also the locale variable, so recipes get a sane one back.
SERVE_LANG := $(if $(filter en,$(LANG)),en,zh)
SERVE_CONFIG := $(if $(filter en,$(SERVE_LANG)),mkdocs.en.yml,mkdocs.yml)
SERVE_URL := http://127.0.0.1:8000/$(if $(filter en,$(SERVE_LANG)),en/,)
LOCALE := LANG=C.UTF-8 LC_ALL=C.UTF-8
# One thread per test process: the tensors are tiny, and two workers each spinning up threads on two cores
# only contend (make check took twice the CPU time without this). pytest keeps its compiled test modules in
# __pycache__ (gitignored) even where the environment sets PYTHONDONTWRITEBYTECODE: without that cache each
# worker recompiles and rewrites every test module on every run (about 3 s of make check's collection).
PYTEST := $(LOCALE) OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

.PHONY: help venv serve build pdf check test lint bench browser package clean distclean new-page translated stale

help:
	@echo "make serve      - set up .venv and preview the Chinese site at http://127.0.0.1:8000/ (LANG=en: English)"
	@echo "make check      - the edit loop: lint, unit tests and every snippet once (about 20 s)"
	@echo "make test       - everything CI runs: lint, every test, a strict build from an empty snippet store"
	@echo "make build      - strict build of both languages into ./$(SITE)"
	@echo "make package    - build the sdist and wheel, and run every snippet against the wheel in a clean venv"
	@echo "make pdf        - make build, then the handbook as one PDF per language (in ./$(SITE) and ./$(SITE)/en)"
	@echo "make bench      - print build, test, size and search figures (never fails on a number)"
	@echo "make new-page SECTION=… SLUG=…   make translated PAGE=…   make stale   make clean   make distclean"

venv: $(STAMP)

# The lock installs every dependency; a .pth file puts src/ on the path, so mllm_handbook and the build
# package are imported from the working tree (the published wheel contains mllm_handbook only).
$(STAMP):
	@$(PYTHON) -c "import sys; sys.exit(0 if sys.version_info >= (3, 10) else 'Python 3.10+ is required, found ' + sys.version)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r $(LOCK)
	@$(BIN)/python -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'mllm-handbook-src.pth').write_text(str(pathlib.Path('src').resolve()) + '\n')"
	@rm -f $(VENV)/.bootstrap-*
	@touch $@

# A browser for the Playwright tests: Debian's Chromium where it exists, else Playwright's own download.
browser: $(STAMP)
	@if [ -x "$(CHROMIUM)" ]; then echo "browser: using $(CHROMIUM)"; \
	else echo "browser: $(CHROMIUM) not found, installing Playwright's Chromium"; $(BIN)/python -m playwright install chromium; fi

# Runs the snippets the store (.cache/snippets) lacks, in parallel, then serves one language with reloads.
serve: $(STAMP)
	$(LOCALE) $(BIN)/python -m handbook_build snippets
	@echo "serving $(SERVE_URL)"
	$(LOCALE) $(BIN)/mkdocs serve --dirty -f $(SERVE_CONFIG) --dev-addr 127.0.0.1:8000

build: $(STAMP)
	$(LOCALE) $(BIN)/python -m handbook_build --site-dir $(SITE)

# Chromium prints each language's pages into $(SITE)/mllm-handbook-zh.pdf and $(SITE)/en/mllm-handbook-en.pdf,
# which the home pages link; the Pages workflow runs the same script after its build.
pdf: build browser
	$(LOCALE) $(BIN)/python scripts/pdf.py $(SITE)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The edit loop: no site build, no browser. pytest runs the unit tests and each page's code blocks (the
# Chinese pages include every snippet; English pages include the same files) on every core.
check: lint
	$(PYTEST) -q -n auto tests/handbook docs/zh

# Two workers, each taking whole test files (--dist loadfile): a file's expensive module fixtures (the page
# audit, the search table, the PDFs) then run in one worker, and the other never sits waiting for them.
test: $(STAMP) browser lint
	$(PYTEST) -n 2 --dist loadfile --cov --cov-report=term

# The published package as a reader gets it: build the sdist and wheel, install the wheel into a clean venv
# (no src/ on the path; its dependencies at the lock's versions, so torch stays 2.13.0) and run every snippet with it from an empty folder.
PACKAGE_VENV := .cache/package-venv
package: $(STAMP)
	rm -rf dist $(PACKAGE_VENV)
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(PYTHON) -m venv $(PACKAGE_VENV)
	$(PACKAGE_VENV)/bin/python -m pip install -q -c $(LOCK) dist/*.whl
	@out=$$(mktemp -d); for f in $$(find $(CURDIR)/snippets -name '*.py' | sort); do \
	  (cd $$out && MPLBACKEND=Agg $(CURDIR)/$(PACKAGE_VENV)/bin/python $$f >/dev/null) \
	  || { echo "package: $$f fails with the installed wheel"; exit 1; }; done; \
	echo "package: every snippet runs with dist/$$(cd dist && ls *.whl)"

bench: $(STAMP) browser
	$(LOCALE) $(BIN)/python scripts/bench.py

new-page: $(STAMP)
	$(BIN)/python scripts/new_page.py "$(SECTION)" "$(SLUG)"

translated: $(STAMP)
	$(BIN)/python scripts/translations.py --update $(PAGE)

stale: $(STAMP)
	$(BIN)/python scripts/translations.py --report

clean:
	rm -rf $(SITE) dist build .cache artifacts .pytest_cache .ruff_cache .coverage .coverage.* htmlcov
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
