# Footpath — `make run` serves the demo, `make test` runs the whole suite.
# Both set up .venv and build the tag themselves on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TAG := sdk_js/dist/t.js

.PHONY: run test lint venv tag clean bench build pure

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The ingestion hot path compiled with Cython (collector/_compiled.py lists the modules).
# Rebuilt whenever any collector source changes (cythonize and build_ext only redo what
# is out of date); importing collector refuses a compiled module not built from its
# current source.
COMPILED := $(VENV)/.compiled
$(COMPILED): $(STAMP) setup.py $(shell find collector -name '*.py')
	$(BIN)/python setup.py -q build_ext --inplace -j 2
	touch $@

build: $(COMPILED)

# Plain Python again (e.g. to profile with py-spy, which cannot see compiled frames).
pure:
	find collector -name '*.so' -delete
	find collector -name '*.c' -delete
	rm -f collector/_compiled.json $(COMPILED)

sdk_js/node_modules/.installed: sdk_js/package.json
	cd sdk_js && npm install --no-audit --no-fund --loglevel=error
	touch $@

tag: sdk_js/node_modules/.installed
	cd sdk_js && npm run --silent build

# Demo GeoIP: MaxMind's test databases beside the checkout, unless real ones are configured.
GEOIP_DIR ?= ../shared/geoip
run: build tag
	@if [ -z "$$FOOTPATH_GEOIP_CITY_DB" ] && [ -f $(GEOIP_DIR)/GeoLite2-City-Test.mmdb ]; then \
	  export FOOTPATH_GEOIP_CITY_DB=$(GEOIP_DIR)/GeoLite2-City-Test.mmdb FOOTPATH_GEOIP_ASN_DB=$(GEOIP_DIR)/GeoLite2-ASN-Test.mmdb; fi; \
	exec $(BIN)/footpath serve

test: build tag
	$(BIN)/ruff check .
	cd sdk_js && npm test --silent
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) sdk_js/node_modules sdk_js/dist data build
	$(MAKE) -s pure
