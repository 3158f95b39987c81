"""The whole suite imports in one process, in the order `make test` collects it.

Modules outside tests/unit import from it (tests/integration/test_issue14_awx.py takes the AWX survey's
launch variables from test_awx_survey.py), and pytest collects them before tests/unit's conftest.py. A
module of tests.unit that imported the collection before Ansible's collection loader was installed left
every later import of it broken, and the unit tests failed in `make test` only. tests/conftest.py installs
Ansible's collection loader before pytest collects anything.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif('ansible_pytest' in os.environ.get('PYTEST_PLUGINS', ''),
                    reason="ansible-test units: its venvs lack what the other suites import (make test runs this)")
def test_every_test_module_imports_when_pytest_collects_the_whole_suite():
    env = {k: v for k, v in os.environ.items() if k not in ('PYTEST_PLUGINS', 'PYTHONPATH', 'PYTEST_ADDOPTS')}
    run = subprocess.run([sys.executable, '-m', 'pytest', '--collect-only', '-q', '-p', 'no:cacheprovider',
                          '-p', 'no:xdist', 'tests'], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=False, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    collected = [line for line in run.stdout.splitlines() if line.startswith('tests/unit/')]
    assert 'tests/unit/test_suite_imports.py::' \
        'test_every_test_module_imports_when_pytest_collects_the_whole_suite' in collected
