# points-gateway: `make run` serves the demo, `make test` runs everything CI runs.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
DEMO    = config/demo.toml

.PHONY: install run test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: $(STAMP)
	@token=$$($(BIN)/points-gateway token --config $(DEMO) DB123) && \
	echo "Demo gateway on http://127.0.0.1:8000 (Ctrl-C stops it). Try:" && \
	echo "  curl -s http://127.0.0.1:8000/v1/points/balance -H 'Content-Type: application/json' \\" && \
	echo "       -d '{\"unique_id\":\"DB123\",\"auth_token\":\"$$token\"}'" && echo
	exec $(BIN)/points-gateway serve --config $(DEMO)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info
