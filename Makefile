# Quick start: `make demo` and `make test` on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian packages the integration and e2e tests run for real.
APT_PACKAGES := openssh-server openssh-client etcd-server chromium sudo openssl iproute2 util-linux gcc libc6-dev \
	libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils

.PHONY: demo test install install-test deps-debian benchmarks clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(PY)
	$(PY) -m pip install -q -e .

install-test: $(PY)
	$(PY) -m pip install -q -e '.[test]'

# Install the Debian packages the tests need, only when missing.
deps-debian:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: install
	$(VENV)/bin/kaudit scan --demo --output-dir reports/demo --fail-on never
	@echo "demo reports written to $(CURDIR)/reports/demo/ (open report.html)"

test: deps-debian install-test
	$(PY) -m pytest -q -p no:cacheprovider

benchmarks: install-test
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) reports build dist *.egg-info
