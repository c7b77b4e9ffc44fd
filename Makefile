# `make app` starts the studio, `make test` runs the tests; both install what is missing first.
PY := .venv/bin/python
PORT ?= 8501

.PHONY: app test setup

setup:
	@scripts/setup.sh

app: setup
	$(PY) -m streamlit run streamlit_app.py --server.port $(PORT)

test:
	@scripts/setup.sh --system
	$(PY) -m pytest $(PYTEST_ARGS)
