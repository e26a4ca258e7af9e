# Two commands for a fresh clone: `make demo` and `make test`. Both install first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.install-stamp

.PHONY: install test test-fast demo bench clean-results

install: $(STAMP)

# Re-runs only when the dependency list or the install script changed, so a
# second `make install` takes well under a second.
$(STAMP): pyproject.toml scripts/install.sh
	bash scripts/install.sh $(VENV)
	@touch $(STAMP)

# The test command (CI runs exactly this through .ci/run). pytest exits 5 when it
# collects no tests, which fails this target like any other failure. TEST_WORKERS
# pytest-xdist processes (one per core of CI's 2-core machine), each test file kept on
# one worker (its module fixtures are built once); TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= 2
test: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Everything but @pytest.mark.slow, for quick local iterations.
test-fast: install
	$(PY) -m pytest -m "not slow"

demo: install
	$(VENV)/bin/harness demo

bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean-results:
	rm -rf results/runs results/sweeps results/demo
