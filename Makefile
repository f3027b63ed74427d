# points-gateway: `make run` serves the demo, `make test` runs everything CI runs.
VENV   ?= .venv
PYTHON ?= python3
PORT   ?= 8000
BIND   ?= 127.0.0.1:$(PORT)
BIN     = $(VENV)/bin
# setuptools ends an editable install with a notice about folders named like the package:
# ours are those folders (the checkout is what is installed), so it tells nothing new.
PIP     = PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip
SUM     = $(shell cksum < pyproject.toml | cut -d' ' -f1)
# `make run` installs the gateway alone; `make test` adds the test tools.
RUN_STAMP  = $(VENV)/.installed-run-$(SUM)
TEST_STAMP = $(VENV)/.installed-test-$(SUM)
DEMO    = config/demo.toml
DEMO_JOURNAL = var/journal.db

.PHONY: install run demo-reset test lint format bench torture docs clean

$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	rm -f $(VENV)/.installed-run-* && touch $@

$(TEST_STAMP): $(RUN_STAMP)
	$(PIP) install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-test-* && touch $@

install: $(RUN_STAMP)

# PORT=8080 or BIND=0.0.0.0:8080 serve elsewhere; the hint below calls what was bound.
# A taken port (or a broken config) is one line, before the hint.
run: $(RUN_STAMP)
	@$(BIN)/points-gateway serve --config $(DEMO) --bind '$(BIND)' --check-port
	@host=$$(echo '$(BIND)' | sed 's/:[0-9]*$$//; s/^0\.0\.0\.0$$/127.0.0.1/; s/^$$/127.0.0.1/'); \
	port=$$(echo '$(BIND)' | sed 's/.*://'); \
	token=$$($(BIN)/points-gateway token --config $(DEMO) DB123) && \
	echo "Demo gateway on http://$$host:$$port (Ctrl-C stops it). Try:" && \
	echo "  curl -s http://$$host:$$port/v1/points/balance -H 'Content-Type: application/json' \\" && \
	echo "       -d '{\"unique_id\":\"DB123\",\"auth_token\":\"$$token\"}'" && \
	echo "The console: http://$$host:$$port/console/ (log in as demo, password demo-console-password)" && echo
	exec $(BIN)/points-gateway serve --config $(DEMO) --bind '$(BIND)'

# Empties the demo's journal: every redemption, refund and credit made while trying it.
demo-reset:
	rm -f $(DEMO_JOURNAL) $(DEMO_JOURNAL)-wal $(DEMO_JOURNAL)-shm $(DEMO_JOURNAL).writelock
	@echo "demo journal emptied; the next make run starts from the CSV's points"

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/pytest

# The documentation site, into site/, by Zensical from mkdocs.yml (--strict: a broken link or
# anchor fails the build). One line when it builds; all Zensical said when it does not.
docs: $(TEST_STAMP)
	@out=$$($(BIN)/zensical build --strict 2>&1) || { printf '%s\n' "$$out" >&2; exit 1; }
	@echo "docs: the site is in site/"

bench: $(TEST_STAMP)
	$(BIN)/python bench/run.py

# The torture suite's long form (tests/torture): serve under traffic beside every command,
# backups and SIGKILLs, for minutes per variant; PostgreSQL's with GATEWAY_TEST_DATABASE_URL.
# `make test` runs its short form. TORTURE_ARGS="--seconds 600 --kills 20" runs longer.
TORTURE_ARGS ?=
torture: $(TEST_STAMP)
	$(BIN)/python -m tests.torture $(TORTURE_ARGS)

clean:
	rm -rf $(VENV) var site .pytest_cache .ruff_cache .mypy_cache *.egg-info
