"""Shared helpers for the testinfra suites that Molecule runs against its hosts."""

import json
import os
from pathlib import Path

import pytest

from tests.harness import CRON_PATH, SUDO_PAM_ENV

ROOT = Path(__file__).resolve().parents[2]


def _release_key(name):
    return tuple(int(part) for part in name[2:].split('.'))


def expected_version(request):
    """The newest stable release of the fixture index that matches a minor request."""
    index = json.loads((ROOT / '.cache/go-mirror/index.json').read_text())
    names = [r['version'] for r in index if r.get('stable') and r['version'].startswith('go%s.' % request)]
    return max(names, key=_release_key)[2:]


@pytest.fixture(scope='module')
def cron_path(host):
    """The PATH cron gives a user's crontab on this host's distribution."""
    return CRON_PATH[host.system_info.distribution]


@pytest.fixture(scope='module')
def sudo_pam_env(host):
    """Whether `sudo -u` without -i runs pam_env (and so reads /etc/environment) on this distribution."""
    return SUDO_PAM_ENV[host.system_info.distribution]


@pytest.fixture(scope='module')
def go_version():
    return expected_version(os.environ.get('GO_BUILDHOST_EXPECT_MINOR', '1.27'))
