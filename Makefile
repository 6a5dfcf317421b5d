# Naya Plaza Reservations — developer tasks (GNU make).
#
#   make run    set everything up and start the app on http://127.0.0.1:5000/
#   make test   lint, type-check and run the test suite
#
# Everything runs inside .venv; nothing is installed globally.

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
FLASK   := $(BIN)/flask --app reservations
STAMP   := $(VENV)/.installed
I18N    := reservations/translations
DEMO_STAMP := instance/.demo-loaded
PYTEST_ARGS ?=
HOST    ?= 127.0.0.1
PORT    ?= 5000

# Vendored design tokens (see static/vendor/digital-go-jp/README.md)
TOKENS_PACKAGE := @digital-go-jp/design-tokens
TOKENS_VERSION ?= latest
TOKENS_DIR     := static/vendor/digital-go-jp

.DEFAULT_GOAL := help
.PHONY: help venv translations babel-extract babel-update db demo run test lint types \
        bench bench-quick vendor-tokens check-tokens clean

# help: list the targets
help:
	@echo "make run          set up .venv, translations, database and demo data; start the app"
	@echo "make test         ruff + mypy + pytest (PYTEST_ARGS='-k foo' passes arguments on)"
	@echo "make lint | types ruff only | mypy only"
	@echo "make db | demo    migrate the database | load the demo data (once)"
	@echo "make translations compile the .po catalogs; make babel-extract refreshes the .pot"
	@echo "make bench | bench-quick | vendor-tokens | check-tokens | clean"

# .venv: the virtualenv, (re)installed whenever pyproject.toml changes
$(VENV): $(STAMP)
venv: $(STAMP)
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

# translations: compile every messages.po under reservations/translations (one catalog per area)
translations: $(STAMP)
	@pos=$$(find $(I18N) -path '*/LC_MESSAGES/messages.po' 2>/dev/null | sort); \
	if [ -z "$$pos" ]; then echo "translations: no .po files, nothing to compile"; exit 0; fi; \
	for po in $$pos; do \
	  $(BIN)/pybabel compile --statistics -i "$$po" -o "$${po%.po}.mo" || exit 1; \
	done

# babel-extract: collect all msgids from the code and templates into reservations/translations/messages.pot
babel-extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --sort-by-file \
	  --project=reservations -o $(I18N)/messages.pot .

# babel-update: merge the .pot into one area's English catalog: make babel-update AREA=base
babel-update: babel-extract
	@test -n "$(AREA)" || { echo "usage: make babel-update AREA=<area> (one of: $$(ls -d $(I18N)/*/ | xargs -n1 basename | tr '\n' ' '))"; exit 2; }
	$(BIN)/pybabel update --no-fuzzy-matching -i $(I18N)/messages.pot -d $(I18N)/$(AREA) -l en

# db: create or migrate the database (SQLite in instance/ unless RESERVATIONS_DATABASE_URL is set)
db: $(STAMP)
	$(FLASK) db upgrade

# demo: load the demo facilities, groups, users and bookings once (the command is idempotent too)
demo: db $(DEMO_STAMP)
$(DEMO_STAMP): | $(STAMP)
	$(FLASK) seed-demo
	@mkdir -p $(@D) && touch $@

# run: everything above, then the scheduler in the background and the web app in the foreground
run: $(STAMP) translations db demo
	@echo
	@echo "Naya Plaza Reservations: http://$(HOST):$(PORT)/"
	@echo "Demo logins (password: naya-demo):"
	@echo "  member@example.jp   group member (group A)"
	@echo "  member2@example.jp  group member (group B)"
	@echo "  staff@example.jp    front-desk staff"
	@echo "  admin@example.jp    administrator"
	@echo "The data shown is sample data. Stop with Ctrl-C."
	@echo
	@bash -c 'sched=; \
	  if ! grep -qs "^BASE_URL" instance/config.py; then \
	    host=$(HOST); [ "$$host" = 0.0.0.0 ] && host=127.0.0.1; \
	    export RESERVATIONS_BASE_URL="$${RESERVATIONS_BASE_URL:-http://$$host:$(PORT)}"; \
	  fi; \
	  if $(FLASK) --help 2>/dev/null | grep -Eq "^ +scheduler( |$$)"; then \
	    $(FLASK) scheduler & sched=$$!; \
	    trap "kill $$sched 2>/dev/null; wait $$sched 2>/dev/null" EXIT; \
	    trap "exit 130" INT TERM; \
	    echo "scheduler started in the background (pid $$sched)"; \
	  else echo "no \"scheduler\" command in this version: reminders and releases will not run"; fi; \
	  $(FLASK) run --host $(HOST) --port $(PORT)'

# test: lint, types and tests; all three run, the target fails if any failed
# (pytest exit code 5, "no tests collected", counts as success)
test: $(STAMP) translations
	@failed=; \
	echo "== ruff"; $(BIN)/ruff check reservations tests benchmarks || failed="$$failed ruff"; \
	echo "== mypy"; $(BIN)/mypy || failed="$$failed mypy"; \
	echo "== pytest"; $(BIN)/pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; elif [ $$rc -ne 0 ]; then failed="$$failed pytest"; fi; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi; echo "all checks passed"

# lint: ruff only
lint: $(STAMP)
	$(BIN)/ruff check reservations tests benchmarks

# types: mypy only (packages and strictness are configured in pyproject.toml)
types: $(STAMP)
	$(BIN)/mypy

# bench: the full benchmark run
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# bench-quick: a short benchmark run (smoke test)
bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.run --quick

# vendor-tokens: refresh static/vendor/digital-go-jp from npm (TOKENS_VERSION=x.y.z to pin); no node_modules
vendor-tokens:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd "$$tmp" && npm pack --silent $(TOKENS_PACKAGE)@$(TOKENS_VERSION) >/dev/null) || exit 1; \
	tar -xzf "$$tmp"/*.tgz -C "$$tmp" || exit 1; \
	mkdir -p $(TOKENS_DIR); \
	cp "$$tmp/package/dist/tokens.css" "$$tmp/package/LICENSE" $(TOKENS_DIR)/ || exit 1; \
	echo "vendored $(TOKENS_PACKAGE) $$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$$tmp/package/package.json")"; \
	echo "now update the version in $(TOKENS_DIR)/README.md and run make check-tokens"
	@$(MAKE) --no-print-directory check-tokens

# check-tokens: every var(--x) used by app.css is defined by the vendored tokens or by app.css itself
check-tokens:
	@missing=; for v in $$(grep -o 'var(--[a-z0-9-]*' static/css/app.css | cut -c5- | sort -u); do \
	  grep -q -- "$$v:" $(TOKENS_DIR)/tokens.css static/css/app.css || missing="$$missing $$v"; done; \
	if [ -n "$$missing" ]; then echo "undefined custom properties:$$missing"; exit 1; fi; \
	echo "check-tokens: all custom properties used by app.css are defined"

# clean: remove the virtualenv, caches and test output (the database in instance/ is kept)
clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis test-output
	find . -name __pycache__ -type d -not -path './.git/*' -prune -exec rm -rf {} +
