# The two commands a new machine needs: `make demo` and `make test`.
# Everything else here is what they are made of.

PYTHON ?= python3.12
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck migrations-check security pytest soak venv clean bench screenshots

# Create the virtualenv once, reinstall only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# The portal, its worker and the seed must all reach the emulator where bin/demo starts it.
demo: export EMULATOR_URL ?= http://$(or $(EMULATOR_HOST),127.0.0.1):$(or $(EMULATOR_PORT),8001)
# Contoso runs the demo portal: its Portal.Operator people (Grady Archie) operate every tenant.
demo: export OPERATOR_TENANT_ID ?= 133d5974-f66e-426c-b6f1-7d0710433bc7
demo: $(STAMP)
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@bin/demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

migrations-check: $(STAMP)
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

pytest: $(STAMP)
	@mkdir -p var
	$(PY) -m pytest

# Static security checks (pyproject.toml [tool.bandit] says what is left out and why).
security: $(STAMP)
	$(VENV)/bin/bandit -q -c pyproject.toml -r .

test: lint typecheck migrations-check security pytest

# The slow reliability cases (docs/reliability.md): real worker clusters and web processes killed
# with SIGKILL, the database restarted. Minutes, not seconds; make test runs everything else.
soak: $(STAMP)
	@mkdir -p var
	$(PY) -m pytest -m soak

# Benchmarks (bench/README.md): each starts what it needs on spare ports and writes its figures
# to its own section of docs/performance.md. About an hour in all; run one alone to look at one
# question. Their figures are ratios against baselines measured in the same run.
bench: $(STAMP)
	@mkdir -p var
	@command -v wrk >/dev/null || { echo "== installing Debian's wrk for the load tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(PY) bench/webhook_latency.py
	$(PY) bench/startup.py
	$(PY) bench/pages.py --requests 10000,100000
	$(PY) bench/poller.py
	$(PY) bench/slow_upstream.py
	$(PY) bench/scaleout.py

# A screenshot of each key page per role in docs/screenshots/ (index: its README.md): the demo on
# spare ports (8201, 8202) with its own database under var/screenshots/, Debian's chromium.
screenshots: $(STAMP)
	@mkdir -p var
	$(PY) bin/screenshots.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
