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

# Demo GeoIP: MaxMind's test databases beside the checkout, unless real ones are configured.
GEOIP_DIR ?= ../shared/geoip
run: venv tag
	@if [ -z "$$FOOTPATH_GEOIP_CITY_DB" ] && [ -f $(GEOIP_DIR)/GeoLite2-City-Test.mmdb ]; then \
	  export FOOTPATH_GEOIP_CITY_DB=$(GEOIP_DIR)/GeoLite2-City-Test.mmdb FOOTPATH_GEOIP_ASN_DB=$(GEOIP_DIR)/GeoLite2-ASN-Test.mmdb; fi; \
	exec $(BIN)/footpath serve

test: venv tag
	$(BIN)/ruff check .
	cd sdk_js && npm test --silent
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) sdk_js/node_modules sdk_js/dist data
