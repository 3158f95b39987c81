# go-buildhost developer entry points. `make test` sets up a fresh Debian machine and runs everything.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
GO_VERSIONS ?= 1.26.6 1.27.3
# The oldest ansible-core the collection supports (meta/runtime.yml) gets a venv of its own:
# tests/collection runs sanity, units and the default Molecule scenario there as well.
VENV_2_17 := .cache/venv-2.17

.PHONY: help venv venv-2.17 docker images mirror promtool vm-image fixtures lint changelog-lint unit test test-fast \
	test-platforms \
	test-vm collection-test molecule demo bench clean

help:
	@echo "make test       everything: venv, Docker, images, fixtures, lint, unit and Molecule tests"
	@echo "make test-fast  lint and unit tests only (seconds)"
	@echo "make test-platforms  every integration suite on Debian 12, 13 and Ubuntu 22.04, 24.04"
	@echo "make collection-test  build, install and use the collection tarball; ansible-test sanity and"
	@echo "                units, and the default scenario, on ansible-core 2.19 and 2.17"
	@echo "make demo       converge a local Debian 12 container with site.yml"
	@echo "make bench      measure facts-only, no-op and fresh converge; writes docs/benchmarks.md"
	@echo "                (MITOGEN=1 installs mitogen and measures it too; GANTSIGN_ROLE=path compares;"
	@echo "                BASELINE=<git rev> measures that revision's site.yml in the same run)"

$(VENV)/.done: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(VENV)/.done

$(VENV_2_17)/.done: requirements-2.17.txt
	python3 -m venv $(VENV_2_17)
	$(VENV_2_17)/bin/pip install --quiet --disable-pip-version-check -r requirements-2.17.txt
	touch $@

venv-2.17: $(VENV_2_17)/.done

docker:
	scripts/ensure-docker.sh

# Debian 12 first (it installs debootstrap when missing), then the other three side by side: each is
# mostly a download. Then the fleet scenario's SSH images, one per platform, side by side too.
IMAGE_RELEASES := 13 22.04 24.04
images: docker
	scripts/build-image.sh 12
	@pids=(); for r in $(IMAGE_RELEASES); do scripts/build-image.sh $$r & pids+=($$!); done; \
	 rc=0; for p in "$${pids[@]}"; do wait $$p || rc=1; done; exit $$rc
	@pids=(); for r in 12 $(IMAGE_RELEASES); do scripts/build-fleet-image.sh $$r & pids+=($$!); done; \
	 rc=0; for p in "$${pids[@]}"; do wait $$p || rc=1; done; exit $$rc

mirror:
	python3 scripts/build-go-mirror.py --versions $(GO_VERSIONS)

promtool:
	scripts/ensure-promtool.sh

vm-image:
	scripts/build-vm-image.sh

fixtures: images mirror promtool vm-image

lint: venv
	$(BIN)/yamllint --strict .
	$(BIN)/ruff check .
	$(BIN)/ansible-lint --profile production
	$(BIN)/antsibull-changelog lint

changelog-lint: venv
	$(BIN)/antsibull-changelog lint

unit: venv
	$(BIN)/pytest -q tests/unit

test-fast: lint unit

test-vm: venv fixtures
	$(BIN)/pytest tests/test_molecule.py -k vm

collection-test: venv venv-2.17 images mirror
	$(BIN)/pytest tests/collection tests/test_molecule.py::test_default_scenario_on_ansible_core_2_17

# Three pytest-xdist workers on two cores: the Molecule scenarios one after another on one worker,
# the collection tests on another, and each integration module on each platform as a group of its
# own (tests/integration/conftest.py); Docker, apt and systemd waits leave the cores room for a third.
# --durations: each scenario's and each slow test's time, for docs/benchmarks.md.
TEST_WORKERS ?= 3
test: venv venv-2.17 fixtures lint
	$(BIN)/pytest tests -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=40

# Every integration module on every supported platform (make test runs every module on Debian 12, and
# the suites that name their platforms on all four): about three times the integration suites' time.
test-platforms: venv fixtures
	GBH_PLATFORMS=all $(BIN)/pytest tests/integration -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=40

demo: venv images mirror
	scripts/demo.sh

bench: venv venv-2.17 images mirror promtool
	$(if $(MITOGEN),$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-mitogen.txt,)
	$(PY) -m scripts.bench $(if $(GANTSIGN_ROLE),--gantsign $(GANTSIGN_ROLE),) $(if $(BASELINE),--baseline $(BASELINE),)
	$(PY) -m scripts.bench_sysctl
	$(PY) -m scripts.bench_go_cache
	$(PY) -m scripts.bench_fleet_cache

clean:
	rm -rf .cache/controller .pytest_cache
