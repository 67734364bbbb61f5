# The two commands a newcomer needs: `make demo` and `make test`.
# Both bootstrap themselves: a .venv, the project with its extras, and system libraries when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint typecheck bench bootstrap clean

bootstrap: $(STAMP)

$(STAMP): pyproject.toml scripts/bootstrap.sh
	@PY=$(PY) bash scripts/bootstrap.sh
	@touch $(STAMP)

demo: $(STAMP)
	@# the TUI on a terminal; the scripted headless demo in CI and pipes
	@if [ -t 0 ] && [ -t 1 ]; then $(BIN)/cryptopos tui --demo; else $(BIN)/cryptopos demo; fi

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow and not hardware" $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
