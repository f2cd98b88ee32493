# Every install step lives here: CI runs on a clean clone with only the package registries reachable.
# The keyvault extra is installed too: the Key Vault sink's tests run against the emulator's vault.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv install demo test test-fast test-loop lint bench chaos clean browser-deps az-venv

venv: $(STAMP)
install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,keyvault]'
	touch $(STAMP)

# Runs the main job against the embedded emulator: validate, plan, apply, re-plan (no changes).
demo: $(STAMP)
	$(BIN)/provisioner validate manifests/
	$(BIN)/provisioner plan manifests/ --emulator
	$(BIN)/provisioner apply manifests/ --emulator --yes
	$(BIN)/provisioner plan manifests/ --emulator --detailed-exitcode

# Headless Chromium for the @pytest.mark.browser tests (skipped where it is absent). `test` installs it
# only when running as root with apt-get (CI: root, Debian registry reachable); elsewhere run
# `sudo make browser-deps` once, or let the browser tests skip.
BROWSER_DEPS := $(if $(and $(filter 0,$(shell id -u)),$(shell command -v apt-get)),browser-deps)

browser-deps:
	test -x /usr/bin/chromium && test -x /usr/bin/chromedriver || \
		(apt-get update && apt-get install -y chromium chromium-driver)

# The unmodified Azure CLI for tests/integration/test_emulator_az.py, in its own virtualenv under the
# user cache (reused between runs and worktrees; the first install takes about a minute).
AZ_CLI_VERSION ?= 2.91.0
AZ_VENV ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/provisioner/azure-cli-$(AZ_CLI_VERSION)
AZ_STAMP := $(AZ_VENV)/.installed

az-venv: $(AZ_STAMP)

$(AZ_STAMP):
	test -x $(AZ_VENV)/bin/python || $(PY) -m venv $(AZ_VENV)
	$(AZ_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AZ_VENV)/bin/python -m pip install --quiet 'azure-cli==$(AZ_CLI_VERSION)'
	touch $(AZ_STAMP)

# The suite runs the CLI as a subprocess hundreds of times. An editable install has no byte-code of
# the tool's own sources (pip compiles only what it copies), and with PYTHONDONTWRITEBYTECODE set, as
# on some CI machines, Python recompiles ~200 modules in every one of those processes (~0.2 s CPU each).
# Compiling once first is what a regular install does; stale files are ignored by mtime.
COMPILE = $(BIN)/python -m compileall -q provisioner

# Two workers; an idle worker takes queued tests from the busy one (worksteal). With xdist's default
# (load), the slow end-to-end tests, collected first, queued up behind one worker while the other
# finished its share and sat idle: 318 s -> 253 s for the same suite on 2 cores.
PYTEST_XDIST = -n 2 --dist worksteal

test: $(STAMP) $(BROWSER_DEPS) $(AZ_STAMP)
	$(COMPILE)
	PROVISIONER_TEST_AZ=$(AZ_VENV)/bin/az $(BIN)/python -m pytest $(PYTEST_XDIST) -q

# Quick feedback, NOT a substitute for `make test`: unit tests, the in-process integration tests and
# the sub-second CLI subprocess tests (validate, --help, broken manifests, refused lifetimes). It skips
# every test marked `slow`, i.e. most end-to-end tests: apply/plan/rotate/status/export/destroy/adopt
# driven through the real CLI (test_cli_loop, test_rotation, test_secret_output, test_adoption,
# test_destroy, test_drift, test_multi_tenant*, test_orphan_journal), the crash-safety kill run and
# the plan property run; and the `browser` tests. `make chaos` is separate from both.
# Flake hunt: the whole suite RUNS times in a row (default 20) with two CPU-bound processes beside
# it, as on a busy 2-core CI machine; stops at the first red run and says which one.
RUNS ?= 20
test-loop: $(STAMP) $(BROWSER_DEPS) $(AZ_STAMP)
	$(COMPILE)
	@sh -c 'yes > /dev/null & a=$$!; yes > /dev/null & b=$$!; trap "kill $$a $$b" EXIT; \
	for i in $$(seq 1 $(RUNS)); do \
		PROVISIONER_TEST_AZ=$(AZ_VENV)/bin/az $(BIN)/python -m pytest $(PYTEST_XDIST) -q -p no:cacheprovider > .test-loop.log 2>&1 \
			|| { echo "test-loop: run $$i of $(RUNS) failed:"; tail -30 .test-loop.log; exit 1; }; \
		echo "test-loop: run $$i of $(RUNS) green ($$(tail -1 .test-loop.log))"; \
	done'

test-fast: $(STAMP)
	$(COMPILE)
	$(BIN)/python -m pytest -q -m "not slow and not browser"

# Import contracts (layers point down, the emulator imports nothing of the tool, no cycles: see
# [tool.importlinter] in pyproject.toml), types (strict on model/ and engine/), then ruff.
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/ruff check provisioner tests bench
	$(BIN)/ruff format --check provisioner tests bench

# Benchmark, not a test: the CLI vs per-object baselines (sequential, 10 in flight) against the emulator
# with 50 ms per HTTP request, N = 1..5000 apps (plan, apply, rotate), 50 tenants x 20 apps, start-up, the
# 1000-app apply under Entra's throttling limits; prints targets met/MISSED, writes bench-results.json.
# BENCH_QUICK=1 make bench: N = 1/10/100 and 5 tenants only.
bench: $(STAMP)
	$(BIN)/python bench/run.py

# Heavy reliability run: 20% 429, 5% 503, 2 s replication lag; apply killed after every k-th write,
# racing applies; ends with a one-line summary (runs, faults injected, duplicates found, data lost).
CHAOS_SUMMARY := .provisioner/chaos-summary.txt
chaos: $(STAMP)
	$(COMPILE)
	mkdir -p .provisioner && rm -f $(CHAOS_SUMMARY)
	PROVISIONER_CHAOS=1 PROVISIONER_CHAOS_SUMMARY=$(CHAOS_SUMMARY) $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/integration/test_chaos.py; status=$$?; cat $(CHAOS_SUMMARY) 2>/dev/null || echo "chaos: no summary"; exit $$status

clean:
	rm -rf $(VENV) .provisioner .pytest_cache
