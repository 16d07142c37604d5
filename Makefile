# Handoff — `make run` starts everything on a laptop; `make test` runs the suite.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed

.PHONY: run test test-pg test-browser bench lint format messages clean

$(PYTHON):
	@command -v $(PY) >/dev/null 2>&1 || { echo "Python 3.11 is needed (set PY=/path/to/python3.11)"; exit 1; }
	$(PY) -m venv $(VENV)

$(STAMP): requirements.txt | $(PYTHON)
	$(BIN)/pip install --upgrade --quiet pip
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $(STAMP)

venv: $(STAMP)

# Ctrl-C reaches runserver in the foreground; the trap then stops the workers and beat (each
# ends its own children) and waits for them. A second Ctrl-C makes Celery quit at once.
# Two workers: one for speed-to-lead work (live), one for long passes and sweeps, so a hot
# lead never waits behind a rescore (config/settings.py, CELERY_TASK_ROUTES).
# The demo's teams work Tokyo hours (its SLA's calendar): its reports count months there too.
run: export REPORTS_TIME_ZONE ?= Asia/Tokyo
run: $(STAMP)
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py seed_demo --if-empty
	$(PYTHON) manage.py reports_rebuild --if-zone-changed
	@bash -c 'stop() { trap - INT TERM EXIT; kill -TERM $$worker $$bulk $$beat 2>/dev/null; wait; }; \
	  trap stop INT TERM EXIT; \
	  $(BIN)/celery -A config worker -Q live -n live@%h --loglevel=INFO --concurrency=2 & worker=$$!; \
	  $(BIN)/celery -A config worker -Q bulk,sweeps -n bulk@%h --loglevel=INFO --concurrency=1 & bulk=$$!; \
	  $(BIN)/celery -A config beat --loglevel=INFO \
	    --scheduler django_celery_beat.schedulers:DatabaseScheduler & beat=$$!; \
	  $(PYTHON) manage.py demo_logins; \
	  echo "Handoff on http://127.0.0.1:8000  (Ctrl-C stops web, worker and beat)"; \
	  $(PYTHON) manage.py runserver 127.0.0.1:8000'

# The whole suite on SQLite with the embedded broker, on every core (pytest-xdist); the layers
# contract (import-linter) and the types (mypy) first. Browser and worker tests run in .ci/run.
test: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy .
	$(PYTHON) manage.py makemigrations --check --dry-run
	$(BIN)/pytest -n auto -m "not browser and not worker"

test-pg: $(STAMP)
	$(BIN)/pytest -m "not browser"

test-browser: $(STAMP)
	$(BIN)/pytest -m browser

# Benchmarks in a database of their own, never the one DATABASE_URL names: handoff_bench on
# the local PostgreSQL, dropped and created afresh (a throwaway SQLite file in var/ when no
# server answers). The in-memory broker keeps their tasks away from any running worker.
# First rescoring (1M leads, ~10M activities), then every dashboard chart (1M leads, ~3M
# stage events). Options pass through, e.g.
#   make bench BENCH_ARGS="--leads 100000 --explain" REPORTS_BENCH_ARGS="--leads 100000"
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/handoff_bench
BENCH_ARGS ?= --leads 1000000
REPORTS_BENCH_ARGS ?= --leads 1000000
bench: $(STAMP)
	@url=$$($(PYTHON) manage.py bench --prepare-database "$(BENCH_DATABASE_URL)") || exit 1; \
	  echo "Bench database: $$url"; \
	  export DATABASE_URL="$$url" CELERY_BROKER_URL=memory:// CELERY_TASK_ALWAYS_EAGER=0; \
	  $(PYTHON) manage.py migrate --noinput -v 0 && \
	  $(PYTHON) manage.py bench $(BENCH_ARGS) && \
	  $(PYTHON) manage.py bench_reports $(REPORTS_BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# --no-location keeps the catalogue free of line numbers, so parallel branches merge cleanly
# (.gitattributes merges django.po as a union).
messages: $(STAMP)
	$(PYTHON) manage.py makemessages -l ja --no-location --no-obsolete --ignore=.venv --ignore=staticfiles --ignore=var
	$(PYTHON) manage.py compilemessages --ignore=.venv

clean:
	rm -rf var staticfiles .pytest_cache
