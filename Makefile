# Quick start: `make demo` and `make test` on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian packages the integration and e2e tests run for real.
APT_PACKAGES := openssh-server openssh-client etcd-server chromium sudo openssl iproute2 util-linux gcc libc6-dev \
	libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils

# What `make image` needs: a Debian base made by debootstrap, built on by buildah.
IMAGE_APT_PACKAGES := buildah debootstrap
IMAGE ?= localhost/kaudit:$(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' kaudit/__init__.py)

.PHONY: demo test install install-test deps-debian deps-image image image-test benchmarks clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(PY)
	$(PY) -m pip install -q -e .

install-test: $(PY)
	$(PY) -m pip install -q -e '.[test]'

# Install the Debian packages the tests need, only when missing.
deps-debian deps-image:
	@missing=""; for p in $(if $(filter deps-image,$@),$(IMAGE_APT_PACKAGES),$(APT_PACKAGES)); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
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

# The image from job/Dockerfile, built here without a registry or daemon
# (job/build-image.sh): prints its size and digest, writes its SBOM to build/image/.
image: deps-image
	IMAGE=$(IMAGE) job/build-image.sh

# The built image run as the CronJob and the node collector DaemonSet run it
# (tests/image/); not part of `make test`.
image-test: deps-debian image install-test
	KAUDIT_IMAGE=$(IMAGE) $(PY) -m pytest -q -p no:cacheprovider tests/image

benchmarks: install-test
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) reports build dist *.egg-info
