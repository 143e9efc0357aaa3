# tierwise: two commands on a fresh machine -- `make demo` and `make test`.
# Both create .venv in the repository when it is missing and install what they need.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# The editable install is "strict" (a link tree under build/ that holds only the tierwise
# package, with tierwise.features and tierwise.models inside it): it is reinstalled when the
# list of package files changes, not when a file is edited.
FILES  := $(VENV)/.package-files
$(shell mkdir -p $(VENV) && find src -type f \( -name '*.py' -o -name '*.j2' \) | LC_ALL=C sort > $(FILES).new \
	&& (cmp -s $(FILES).new $(FILES) || mv $(FILES).new $(FILES)); rm -f $(FILES).new)

.PHONY: install demo test bench lint clean browser docs

$(STAMP): pyproject.toml $(FILES)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,spark,bench]' --config-settings editable_mode=strict
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tierwise demo

test: $(STAMP) browser
	$(PY) -m pytest -q

# Headless Chromium for the browser tests (pytest -m browser), from Debian's packages, only
# when it is missing. Without apt-get (or if the install fails) the browser tests skip and say why.
CHROMIUM_PKGS := chromium chromium-driver fonts-noto-cjk
CHROMIUM_BIN ?= /usr/bin/chromium
CHROMEDRIVER_BIN ?= /usr/bin/chromedriver
browser:
	@if [ -x $(CHROMIUM_BIN) ] && [ -x $(CHROMEDRIVER_BIN) ]; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "note: apt-get is not available; install $(CHROMIUM_PKGS) yourself -- browser tests will be skipped"; \
	else \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  echo "installing $(CHROMIUM_PKGS) for the browser tests"; \
	  ( $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(CHROMIUM_PKGS) ) \
	  || echo "note: could not install $(CHROMIUM_PKGS) -- browser tests will be skipped"; \
	fi

bench: $(STAMP)
	$(PY) bench/run.py

# Regenerate the generated references: docs/configuration.md, docs/cli.md, the contract table.
docs: $(STAMP)
	$(PY) tools/reference_docs.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

clean:
	rm -rf outputs mlflow.db mlartifacts bench/_work .pytest_cache
