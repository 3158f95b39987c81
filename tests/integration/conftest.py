"""Real containers and real ansible-playbook runs, started from pytest.

The harness is the project's own: `make test` builds the images and the Go
mirror fixture first. Each module gets a fresh systemd container.
"""

import contextlib
import json
import shutil
import uuid

import pytest

from tests.harness import (  # noqa: F401 - the tests import these from here
    MIRROR, ROOT, VENV_BIN, BenchHost, Fleet, PlayResult, Target, cpu_ticks, docker, start_systemd_container,
    wait_for_quiet,
)

# go_env follows the caches go_cache publishes (site.yml runs go_cache first); an inventory may
# also say it outright, as these suites do, and both must agree.
SITE_CACHE_VARS = {'go_env_modcache_shared': True}


@contextlib.contextmanager
def fresh_target(tmp_path_factory):
    """A fresh systemd container serving the Go mirror fixture, as a Target; removed at the end."""
    if shutil.which('docker') is None or docker('info', check=False).returncode != 0:
        pytest.fail('no Docker engine: run `make docker` (scripts/ensure-docker.sh)')
    if not (MIRROR / 'index.json').exists():
        pytest.fail('no Go mirror fixture: run `make mirror`')
    name = 'gbh-it-%s' % uuid.uuid4().hex[:8]
    try:
        start_systemd_container(name, with_mirror=True)
        yield Target(name, tmp_path_factory.mktemp(name))
    finally:
        docker('rm', '-f', name, check=False)


@pytest.fixture(scope='module')
def target(tmp_path_factory):
    with fresh_target(tmp_path_factory) as fresh:
        yield fresh


@pytest.fixture(scope='module')
def releases():
    """{version: (filename, sha256)} of the fixture mirror, newest first."""
    index = json.loads((MIRROR / 'index.json').read_text())
    return {r['version'][2:]: (r['files'][0]['filename'], r['files'][0]['sha256']) for r in index}
