# Every install step lives here: CI runs on a clean clone with only the package registries reachable.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv install demo test test-fast lint bench chaos clean

venv: $(STAMP)
install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Runs the main job against the embedded emulator: validate, plan, apply, re-plan (no changes).
demo: $(STAMP)
	$(BIN)/provisioner validate manifests/
	$(BIN)/provisioner plan manifests/ --emulator
	$(BIN)/provisioner apply manifests/ --emulator --yes
	$(BIN)/provisioner plan manifests/ --emulator --detailed-exitcode

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/ruff check provisioner tests
	$(BIN)/ruff format --check provisioner tests

clean:
	rm -rf $(VENV) .provisioner .pytest_cache
