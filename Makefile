# Footpath — `make run` serves the demo, `make test` runs the whole suite.
# Both set up .venv and build the tag themselves on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TAG := sdk_js/dist/t.js

.PHONY: run test lint venv tag clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

sdk_js/node_modules/.installed: sdk_js/package.json
	cd sdk_js && npm install --no-audit --no-fund --loglevel=error
	touch $@

tag: sdk_js/node_modules/.installed
	cd sdk_js && npm run --silent build

run: venv tag
	$(BIN)/footpath serve --demo

test: venv tag
	$(BIN)/ruff check .
	cd sdk_js && npm test --silent
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) sdk_js/node_modules sdk_js/dist data
