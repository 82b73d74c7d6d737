# Two commands on a fresh machine: `make book` and `make test`.
# Both create .venv from requirements.txt when it is missing or older than
# requirements.txt / pyproject.toml, and install recsys_lite (editable).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
HTML   := _build/html
PDF    := _build/pdf/recsys-lite.pdf
PORT   ?= 8000
# Notebooks executed at a time by `make book` (empty: the build's default, 2 on a machine with 2+ cores).
JOBS   ?=
# pytest-xdist workers for `make test`: one runs the book's builds and browser tests (tests/conftest.py, BOOK_FILES),
# the other every other test meanwhile. 1 runs the suite in one process, as plain `pytest` does.
TEST_WORKERS ?= 2

.PHONY: book pdf test bench lab lab-zh serve clean help

help:
	@echo "make book   build the website into $(HTML), the Chinese edition into $(HTML)/zh (sets up .venv first; JOBS=1 executes one notebook at a time)"
	@echo "make pdf    print the whole book to $(PDF), and the Chinese edition beside it (needs Debian's chromium, fonts-noto-cjk)"
	@echo "make test   run every test, including a full book build and the browser test (TEST_WORKERS=1: in one process)"
	@echo "make bench  run the benchmarks (speed, compile level, MF race, quality, book timing); see benchmarks/RESULTS.md"
	@echo "make lab    open the chapters in JupyterLab (make lab-zh: the Chinese edition's, 中文版)"
	@echo "make serve  serve the built site on http://127.0.0.1:$(PORT)"
	@echo "make clean  remove build outputs (keeps .venv)"

# The pinned jax, numpy and pandas need Python >= 3.11: say so before making .venv with an older $(PYTHON).
PYTHON_FLOOR := 3.11
define check_python
v=$$($(PYTHON) -c 'import platform; print(platform.python_version())' 2>/dev/null) \
  || { echo "recsys-lite needs Python >= $(PYTHON_FLOOR); '$(PYTHON)' was not found or does not run. Set PYTHON=python3.11 (or newer), e.g. make book PYTHON=python3.12" >&2; exit 1; }; \
major=$${v%%.*}; rest=$${v#*.}; minor=$${rest%%.*}; \
if [ "$$major" -lt 3 ] || { [ "$$major" -eq 3 ] && [ "$$minor" -lt $(lastword $(subst ., ,$(PYTHON_FLOOR))) ]; }; then \
  echo "recsys-lite needs Python >= $(PYTHON_FLOOR); $(PYTHON) is $$v. Set PYTHON=python3.11 (or newer), e.g. make book PYTHON=python3.12" >&2; exit 1; fi
endef

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || { $(check_python); }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

# The benchmarks' peers (Flax, Surprise, implicit), pinned in
# requirements-bench.txt: the tests run each benchmark on a tiny configuration.
$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	@touch $(BENCH_STAMP)

book: $(STAMP)
	$(if $(JOBS),RECSYS_LITE_BOOK_JOBS=$(JOBS) )$(VENV)/bin/jupyter-book build . --builder html
	@echo
	@echo "The book is built. Open $(CURDIR)/$(HTML)/index.html"
	@test ! -f $(HTML)/zh/index.html || echo "(the Chinese edition: $(CURDIR)/$(HTML)/zh/index.html)"
	@echo "or run 'make serve' and visit http://127.0.0.1:$(PORT)"

# The whole book on one HTML page (the same execution cache as `make book`), printed by Chromium.
pdf: $(STAMP)
	$(if $(JOBS),RECSYS_LITE_BOOK_JOBS=$(JOBS) )$(VENV)/bin/jupyter-book build . --builder singlehtml
	$(PY) book/pdf.py --output $(PDF)

test: $(BENCH_STAMP)
	$(PY) -m pytest $(if $(filter-out 1,$(TEST_WORKERS)),--numprocesses $(TEST_WORKERS))

bench: $(BENCH_STAMP)
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/compile_level.py
	$(PY) benchmarks/mf_race.py
	$(PY) benchmarks/quality.py
	$(PY) benchmarks/book.py --jobs 1 2

lab: $(STAMP)
	$(VENV)/bin/jupyter lab chapters/

# The Chinese edition's notebooks: the same code; glued words print in Chinese (recsys_lite.book.reader_language).
lab-zh: $(STAMP)
	$(VENV)/bin/jupyter lab zh/chapters/

serve:
	@test -f $(HTML)/index.html || { echo "No built site: run 'make book' first."; exit 1; }
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory $(HTML)

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
