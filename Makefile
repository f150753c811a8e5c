# Two-command quick start: `make demo` and `make test`. Both set up .venv themselves.
#
# .venv holds the compiled build (mypyc turns the engine's modules into C extensions: the same
# source, about 4x faster, then optimised by GCC with a profile of its own run: PGO below); it is
# rebuilt when a source file changes (about four minutes; PGO=0: two).
# .venv-pure holds an editable plain-Python install (TUXTCP_PURE=1) for quick edit-test loops;
# `make test` runs the suite on both.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PURE := .venv-pure
PURE_STAMP := $(PURE)/.installed
SOURCES := $(shell find src -name '*.py') setup.py pyproject.toml

.PHONY: demo test test-compiled test-pure lint bench setup clean fuzz

# PGO=1 (the default): build the libraries instrumented, run tools/pgo_train.py on them, and build
# them again with that profile (GCC; setup.py's _optimised); PGO=0: one build (LTO only), about
# half the time. The profile lives in the venv; `build` (setuptools' objects) is emptied before
# each build so that every object is compiled with the flags of that build.
PGO ?= 1
PGO_DIR := $(CURDIR)/$(VENV)/pgo

$(STAMP): $(SOURCES) tools/pgo_train.py
	[ -x $(BIN)/python ] || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	rm -rf build $(PGO_DIR)
ifeq ($(PGO),1)
	TUXTCP_PGO=generate TUXTCP_PGO_DIR=$(PGO_DIR) $(BIN)/pip install -q '.[dev,plot,host,bench,dask]'
	$(BIN)/python tools/pgo_train.py
	rm -rf build
	TUXTCP_PGO=use TUXTCP_PGO_DIR=$(PGO_DIR) $(BIN)/pip install -q --no-deps --force-reinstall .
else
	$(BIN)/pip install -q '.[dev,plot,host,bench,dask]'
endif
	touch $(STAMP)

$(PURE_STAMP): setup.py pyproject.toml
	[ -x $(PURE)/bin/python ] || $(PY) -m venv $(PURE)
	$(PURE)/bin/pip install -q --upgrade pip
	TUXTCP_PURE=1 $(PURE)/bin/pip install -q -e '.[dev,plot,host,bench,dask]'
	touch $(PURE_STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/tuxtcp demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools fuzz setup.py
	$(BIN)/mypy
	cd src && ../$(BIN)/lint-imports --config ../pyproject.toml --no-logo --no-cache
	$(BIN)/python tools/check_no_local_imports.py src/tuxtcp/tcp src/tuxtcp/net src/tuxtcp/wire src/tuxtcp/socket src/tuxtcp/sim

# the compiled build: the whole suite (root tests included)
test-compiled: $(STAMP)
	$(BIN)/python -c 'import tuxtcp.tcp.demux as m, sys; sys.exit(0 if m.__file__.endswith(".so") else "not the compiled build: " + m.__file__)'
	$(BIN)/pytest tests

# the same source as plain Python (root-only host-kernel tests run once, above)
test-pure: $(PURE_STAMP)
	$(PURE)/bin/python -c 'import tuxtcp.tcp.demux as m, sys; sys.exit(0 if m.__file__.endswith(".py") else "not plain Python: " + m.__file__)'
	$(PURE)/bin/pytest tests -m 'not root'

test: lint test-compiled test-pure

bench: $(STAMP) $(PURE_STAMP)
	$(BIN)/pytest bench -p no:cacheprovider --benchmark-columns=min,rounds --benchmark-json=bench/last-run.json -s

# long fuzzing runs (not part of `make test`): the stateful fuzzer on the compiled build for
# FUZZ_SEGMENTS segments, then atheris (coverage-guided, plain Python so every branch is
# instrumented) for FUZZ_TIME seconds on each target; corpora and crashes stay in fuzz/out
FUZZ_SEGMENTS ?= 10000000
FUZZ_TIME ?= 300
fuzz: $(STAMP) $(PURE_STAMP)
	$(BIN)/python fuzz/run_states.py --segments $(FUZZ_SEGMENTS) --jobs 2
	mkdir -p fuzz/out/wire fuzz/out/engine
	$(PURE)/bin/python fuzz/atheris_targets.py wire fuzz/out/wire -max_total_time=$(FUZZ_TIME) \
		-artifact_prefix=fuzz/out/ -print_final_stats=1
	$(PURE)/bin/python fuzz/atheris_targets.py engine fuzz/out/engine \
		-max_total_time=$(FUZZ_TIME) -artifact_prefix=fuzz/out/ -print_final_stats=1

clean:
	rm -rf $(VENV) $(PURE) build *.egg-info src/*.egg-info
