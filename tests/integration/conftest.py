"""Real containers and real ansible-playbook runs, started from pytest.

The harness is the project's own: `make test` builds the images and the Go
mirror fixture first. Each module gets a fresh systemd container per platform.

`make test` runs a module on the platforms it names in PLATFORMS (every supported one, for the suites
that see the host from outside: site_defaults, issue14_accounts, go_cache, sysctl_tuning, audit), or
on the reference platform (Debian 12) alone: the CPU budget of `.ci/run` on two cores does not hold
every module on all four yet (docs/benchmarks.md). `make test-platforms` (GBH_PLATFORMS=all) runs
every module on every supported platform, and GBH_PLATFORMS=debian13,ubuntu2204 on those.
"""

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path

import pytest

from tests.harness import (  # noqa: F401 - the tests import these from here
    CRON_PATH, MIRROR, PLATFORMS, ROOT, VENV_BIN, BenchHost, Fleet, PlayResult, Target, cpu_ticks, docker,
    start_systemd_container, wait_for_quiet,
)

# go_env follows the caches go_cache publishes (site.yml runs go_cache first); an inventory may
# also say it outright, as these suites do, and both must agree.
SITE_CACHE_VARS = {'go_env_modcache_shared': True}


# The reference platform: every module runs there in make test, and every case of a refusal matrix.
# Those checks run on the controller, through the same Python as the unit tests, before any task
# reaches the host: the other platforms run the first case of each matrix, which proves the refusal
# leaves their host unchanged too.
REFERENCE_PLATFORM = 'debian12'


def module_platforms(module):
    """The platforms a test module runs on. GBH_PLATFORMS=all (make test-platforms) runs every module
    on every platform, GBH_PLATFORMS=debian13,ubuntu2204 on those; unset (make test), a module runs on
    its own PLATFORMS, or on the reference platform alone."""
    wanted = os.environ.get('GBH_PLATFORMS')
    if not wanted:
        return list(getattr(module, 'PLATFORMS', (REFERENCE_PLATFORM,)))
    if wanted == 'all':
        return list(PLATFORMS)
    unknown = set(wanted.split(',')) - set(PLATFORMS)
    if unknown:
        raise pytest.UsageError('GBH_PLATFORMS: unknown %s; known: %s, or all'
                                % (sorted(unknown), ', '.join(PLATFORMS)))
    return [p for p in PLATFORMS if p in wanted.split(',')]


def pytest_generate_tests(metafunc):
    if 'platform' in metafunc.fixturenames:
        metafunc.parametrize('platform', module_platforms(metafunc.module), indirect=True, scope='module')


@pytest.fixture(scope='module')
def platform(request):
    """The platform of this module's container: a key of tests.harness.PLATFORMS."""
    return request.param


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    # pytest-xdist (--dist loadgroup): a module's tests on one platform share a container and run
    # in file order, so they stay on one worker; modules and platforms spread over the workers.
    # A module without platforms (a fleet of its own, say) stays on one worker as a whole.
    here = Path(__file__).parent
    kept, deselected, first_cases = [], [], set()
    for item in items:
        if here not in item.path.parents:
            kept.append(item)
            continue  # the hook sees the whole session's items
        callspec = getattr(item, 'callspec', None)
        platform = callspec.params.get('platform') if callspec is not None else None
        matrix = item.get_closest_marker('refusal_matrix')
        if matrix and platform not in (None, REFERENCE_PLATFORM):
            # A matrix is a parametrized test, or the tests that name one matrix in the marker.
            case = (item.module.__name__, matrix.args[0] if matrix.args else item.originalname, platform)
            if case in first_cases:
                deselected.append(item)
                continue
            first_cases.add(case)
        item.add_marker(pytest.mark.xdist_group('%s-%s' % (item.module.__name__, platform or 'all')))
        kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@contextlib.contextmanager
def fresh_target(tmp_path_factory, platform='debian12'):
    """A fresh systemd container of the platform, serving the Go mirror fixture, as a Target; removed
    at the end."""
    if shutil.which('docker') is None or docker('info', check=False).returncode != 0:
        pytest.fail('no Docker engine: run `make docker` (scripts/ensure-docker.sh)')
    if not (MIRROR / 'index.json').exists():
        pytest.fail('no Go mirror fixture: run `make mirror`')
    if docker('image', 'inspect', PLATFORMS[platform], check=False).returncode != 0:
        pytest.fail('no image %s: run `make images`' % PLATFORMS[platform])
    name = 'gbh-it-%s-%s' % (platform, uuid.uuid4().hex[:8])
    try:
        start_systemd_container(name, image=PLATFORMS[platform], with_mirror=True)
        yield Target(name, tmp_path_factory.mktemp(name))
    finally:
        docker('rm', '-f', name, check=False)


@pytest.fixture(scope='module')
def target(tmp_path_factory, platform):
    with fresh_target(tmp_path_factory, platform) as fresh:
        yield fresh


@pytest.fixture(scope='module')
def releases():
    """{version: (filename, sha256)} of the fixture mirror, newest first."""
    index = json.loads((MIRROR / 'index.json').read_text())
    return {r['version'][2:]: (r['files'][0]['filename'], r['files'][0]['sha256']) for r in index}
