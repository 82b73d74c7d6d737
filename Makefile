# Two commands on a fresh machine: `make book` and `make test`.
# Both create .venv from requirements.txt when it is missing or older than
# requirements.txt / pyproject.toml, and install recsys_lite (editable).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HTML   := _build/html
PORT   ?= 8000

.PHONY: book test lab serve clean help

help:
	@echo "make book   build the website into $(HTML) (sets up .venv first)"
	@echo "make test   run every test, including a full book build and the browser test"
	@echo "make lab    open the chapters in JupyterLab"
	@echo "make serve  serve the built site on http://127.0.0.1:$(PORT)"
	@echo "make clean  remove build outputs (keeps .venv)"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --builder html
	@echo
	@echo "The book is built. Open $(CURDIR)/$(HTML)/index.html"
	@echo "or run 'make serve' and visit http://127.0.0.1:$(PORT)"

test: $(STAMP)
	$(PY) -m pytest

lab: $(STAMP)
	$(VENV)/bin/jupyter lab chapters/

serve:
	@test -f $(HTML)/index.html || { echo "No built site: run 'make book' first."; exit 1; }
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory $(HTML)

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
