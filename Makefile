# Two commands set up everything on a fresh machine:
#   make book   build the Jupyter Book into _build/html
#   make test   run the unit tests and execute every notebook under strict nbval
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: book test lab clean student bench venv vendor

venv: $(STAMP)

# Recreated only when the pinned dependencies change.
$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt -e .
	touch $(STAMP)

# JavaScript the built pages serve themselves (see _config.yml): MathJax, RequireJS and the
# ipywidgets embedder, pinned in package.json/package-lock.json. `npm ci` runs only when the
# lock file is newer than node_modules; the copy into book/vendor only when node_modules changed.
NODE_STAMP := node_modules/.package-lock.json
VENDOR := book/vendor
VENDOR_STAMP := $(VENDOR)/.copied

$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

$(VENDOR_STAMP): $(NODE_STAMP)
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/mathjax $(VENDOR)/requirejs $(VENDOR)/jupyter-widgets
	cp -R node_modules/mathjax/es5/. node_modules/mathjax/LICENSE $(VENDOR)/mathjax/
	cp node_modules/requirejs/require.js $(VENDOR)/requirejs/
	cp node_modules/@jupyter-widgets/html-manager/dist/embed-amd.js $(VENDOR)/jupyter-widgets/
	touch $@

vendor: $(VENDOR_STAMP)

book: $(STAMP) $(VENDOR_STAMP)
	$(VENV)/bin/jupyter-book build . --path-output . -W -n --keep-going

# The second run executes the notebooks with another BLAS kernel and one thread, as on a reader's
# laptop: training amplifies the last bits of every matrix product, so an output that depends on
# this machine's kernel fails here rather than there. The variables are set for that command only.
test: $(STAMP)
	$(PY) -m pytest tests notebooks --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg
	OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 \
		$(PY) -m pytest notebooks --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf _build .jupyter_cache .pytest_cache .hypothesis $(VENDOR)
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

# The student edition: solutions replaced by stubs, outputs cleared (nbgrader's rules).
student: $(STAMP)
	$(PY) scripts/student_edition.py --output _build/student

# The benchmark suite (not part of `make test`): aelib against PyTorch and scikit-learn on this
# machine, written to bench/results.json, which book/benchmarks.md draws. It installs the
# optional bench extra (PyTorch for the CPU, scikit-learn) into .venv, keeping the pinned set,
# and takes about 5 minutes on 2 cores. Options go in BENCH_ARGS, e.g.
#   make bench BENCH_ARGS="--threads 1"    or    make bench BENCH_ARGS=--quick
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)
