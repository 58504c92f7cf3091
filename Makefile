# Two commands set up everything on a fresh machine:
#   make book   build the Jupyter Book into _build/html
#   make test   run the unit tests and execute every notebook under strict nbval
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: book book-stored test test-explore lab clean student bench venv vendor oldest

venv: $(STAMP)

# The pinned packages are installed by uv, itself pinned in constraints.txt and installed into
# .venv by pip: it installs the same versions as pip in a tenth of the time (10 s instead of
# 100 s here). With INSTALLER=pip (`make test INSTALLER=pip`), pip does it all, for a machine
# whose package index is configured for pip only (uv does not read pip.conf).
INSTALLER ?= uv
UV := $(VENV)/bin/uv
ifeq ($(INSTALLER),uv)
install = $(UV) pip install --quiet --python $(1)
else
install = $(1) -m pip install --quiet
endif

$(UV): constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt uv
	touch $(UV)

# Recreated only when the pinned dependencies change.
$(STAMP): requirements.txt constraints.txt pyproject.toml | $(UV)
	$(call install,$(PY)) -r requirements.txt -c constraints.txt -e .
	touch $(STAMP)

# aelib's unit tests also run against the oldest numpy and matplotlib it supports (the floors
# in pyproject.toml, pinned in requirements-oldest.txt), in a venv of their own. The few that
# train a model to one of the book's quality targets (marker `training`) run with the pinned
# set only. Tests of the book's toolchain (notebooks, site, packaging, coursework) need the
# full set and run only above, and so do the tests of the exercise checks (test_checks_*.py):
# hundreds of wrong and right answers, which test the checks' logic, not numpy's.
OLDEST := .venv-oldest
OLDEST_STAMP := $(OLDEST)/.installed
TOOLCHAIN_TESTS := tests/test_book_browser.py tests/test_environment.py tests/test_figure_alt_text.py \
	tests/test_nbgrader_course.py tests/test_notebooks_clean.py \
	tests/test_packaging.py tests/test_student_edition.py tests/test_torch_crosscheck.py
AELIB_TESTS := $(filter-out $(TOOLCHAIN_TESTS) $(wildcard tests/test_checks_*.py),$(wildcard tests/test_*.py))

$(OLDEST_STAMP): requirements-oldest.txt pyproject.toml | $(UV)
	test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(call install,$(OLDEST)/bin/python) -r requirements-oldest.txt
	$(call install,$(OLDEST)/bin/python) --no-deps -e .
	touch $(OLDEST_STAMP)

oldest: $(OLDEST_STAMP)

# JavaScript the built pages serve themselves (see _config.yml): MathJax, pinned in
# package.json/package-lock.json with axe-core, which the browser test injects into every page
# to check accessibility. `npm ci` runs only when the lock file is newer than node_modules; the
# copy into book/vendor only when node_modules changed.
NODE_STAMP := node_modules/.package-lock.json
VENDOR := book/vendor
VENDOR_STAMP := $(VENDOR)/.copied

$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

$(VENDOR_STAMP): $(NODE_STAMP)
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/mathjax
	cp -R node_modules/mathjax/es5/. node_modules/mathjax/LICENSE $(VENDOR)/mathjax/
	touch $@

vendor: $(VENDOR_STAMP)

# `--all` rewrites every page: Sphinx copies the static files (book/assets) only when it writes
# a page, so after an edit of the stylesheet alone an incremental build kept the old one. The
# chapters are not executed again (the execution cache), and the whole build takes seconds.
book: $(STAMP) $(VENDOR_STAMP)
	$(VENV)/bin/jupyter-book build . --path-output . -W -n --keep-going --all

# The same site built from the outputs stored in the chapters, without executing them again:
# for the browser test, which `make test` runs beside strict nbval, the run that proves those
# stored outputs are exactly what the code produces. (The appendix, a text notebook with no
# stored outputs, still executes.) It goes to _build/stored/_build/html, so the site
# `make book` publishes, and its execution cache, are left alone.
STORED_CONFIG := _build/stored/_config.yml
book-stored: $(STAMP) $(VENDOR_STAMP)
	mkdir -p _build/stored
	sed 's|^  execute_notebooks: cache$$|&\n  exclude_patterns: ["notebooks/*.ipynb"]|' _config.yml > $(STORED_CONFIG)
	grep -q '^  exclude_patterns: \["notebooks/\*.ipynb"\]$$' $(STORED_CONFIG)
	$(VENV)/bin/jupyter-book build . --config $(STORED_CONFIG) --path-output _build/stored -W -n --keep-going --all

# Two workers (`-n 2`); `--dist loadfile` keeps each notebook's cells in one kernel, in order,
# and `--no-loadscope-reorder` hands out the files in collection order, where tests/conftest.py
# puts the slowest first (by default the files with the most tests would go first).
# One BLAS thread per process: with two workers on two cores, OpenBLAS threads would only wait
# for each other on the book's small matrices (chapter 4 took 5x longer with two on a busy
# machine). The stored outputs hold with 1 and 2 threads alike (see README).
TEST_ENV := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
test: $(STAMP) $(OLDEST_STAMP) $(NODE_STAMP)
	$(TEST_ENV) $(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder tests notebooks --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg
	$(TEST_ENV) $(OLDEST)/bin/python -m pytest -n 2 -p no:cacheprovider -m "not training" $(AELIB_TESTS)

# The property-based tests draw a fixed set of examples in `make test` (tests/conftest.py: the
# profile "reproducible"), so CI draws what a developer's run drew. This wider search draws twenty
# times as many, at random, on every run; a failure prints the example to reproduce.
PROPERTY_TESTS := tests/test_properties.py tests/test_noise.py
test-explore: $(STAMP)
	$(TEST_ENV) HYPOTHESIS_PROFILE=explore $(PY) -m pytest -n 2 -p no:cacheprovider $(PROPERTY_TESTS)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf _build .jupyter_cache .pytest_cache .hypothesis $(VENDOR) build dist
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

# The student edition: solutions replaced by stubs, outputs cleared (nbgrader's rules).
student: $(STAMP)
	$(PY) scripts/student_edition.py --output _build/student

# The benchmark suite (not part of `make test`): aelib against PyTorch and scikit-learn on this
# machine, written to bench/results.json, which book/benchmarks.md draws. It installs the
# optional bench extra (PyTorch for the CPU, scikit-learn) into .venv, keeping the pinned set,
# and takes about 10 minutes on 2 cores. Options go in BENCH_ARGS, e.g.
#   make bench BENCH_ARGS="--threads 1"    or    make bench BENCH_ARGS=--quick
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)
