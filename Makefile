# alokon: `make run` starts the whole system, `make test` runs every check. Only python3.11 is needed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test stop lint format messages

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamp files: install again only when a requirements file changed.
$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(PY) -m alokon.devrun

stop:
	@if [ -x $(PY) ]; then $(PY) -m alokon.embedded_db stop; fi

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The test settings supply a SECRET_KEY, so the migration check needs nothing set.
test: lint
	DJANGO_SETTINGS_MODULE=alokon.test_settings $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

# Refresh the Indonesian catalogue after changing user-facing text (needs GNU gettext);
# translate the new entries in alokon/locale/id/LC_MESSAGES/django.po, then run it again.
messages: $(VENV)/.installed-dev
	DJANGO_SETTINGS_MODULE=alokon.test_settings $(PY) manage.py makemessages -l id --no-location --no-obsolete \
		--ignore='.venv/*' --ignore='bench/*' --ignore='tests/*'
	DJANGO_SETTINGS_MODULE=alokon.test_settings $(PY) manage.py compilemessages -l id --ignore='.venv/*'
