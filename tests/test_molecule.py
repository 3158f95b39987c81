"""Run every Molecule scenario (molecule/*/molecule.yml) as one test each.

The full log of each scenario goes to .cache/logs/molecule-<scenario>.log;
a failure shows its failed tasks and verifier errors, then its tail.
"""

import os
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / '.venv' / 'bin'
SCENARIOS = sorted(p.parent.name for p in (ROOT / 'molecule').glob('*/molecule.yml'))


# The oldest ansible-core the collection supports (meta/runtime.yml), with the molecule that takes it
# (requirements-2.17.txt, `make venv-2.17`): the default scenario runs there too.
BIN_2_17 = ROOT / '.cache' / 'venv-2.17' / 'bin'


# A scenario's limit: the vm scenario took 26 min in a clean-clone run beside two other workers and
# went past the 30 min this was before; the whole run stays within CI's own limit.
TIMEOUT = 3600


def run_scenario(scenario, bin_dir, log_name):
    logs = ROOT / '.cache' / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / ('%s.log' % log_name)
    env = dict(os.environ, PATH='%s:%s' % (bin_dir, os.environ['PATH']), ANSIBLE_FORCE_COLOR='0', PY_COLORS='0')
    with log.open('w') as out:
        proc = subprocess.Popen([str(bin_dir / 'molecule'), 'test', '--scenario-name', scenario], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            # Molecule's whole session (its ansible-playbook and verify runs), then its destroy step,
            # which also stops the VMs that QEMU daemonized out of that session: nothing outlives the test.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            subprocess.run([str(bin_dir / 'molecule'), 'destroy', '--scenario-name', scenario], cwd=ROOT, env=env,
                           stdout=out, stderr=subprocess.STDOUT, timeout=600, check=False)
            pytest.fail('molecule test -s %s ran past %d s; its log: %s' % (scenario, TIMEOUT, log), pytrace=False)
    if proc.returncode != 0:
        lines = log.read_text().splitlines()
        pytest.fail('molecule test -s %s failed (rc=%d); full log: %s\n%s\n[...]\n%s'
                    % (scenario, proc.returncode, log, '\n'.join(failure_lines(lines)), '\n'.join(lines[-60:])),
                    pytrace=False)


# What CI keeps of a failure is an excerpt: the failed tasks and the verifier's failures come first,
# each with a few lines of context, since a tail alone is only the destroy step.
FAILURE_MARKS = ('fatal: [', 'failed: [', 'FAILED ', 'E   ', '_____ test_', 'UNREACHABLE!')


def failure_lines(lines, context=12, limit=400):
    keep = set()
    for i, line in enumerate(lines):
        if any(mark in line for mark in FAILURE_MARKS) and 'RETRYING' not in line:
            keep.update(range(max(0, i - 2), min(len(lines), i + context)))
    return [lines[i] for i in sorted(keep)][:limit]


# pytest-xdist (--dist loadgroup): each scenario is a group of its own, beside the integration suites;
# the default scenario's run on ansible-core 2.17 shares its container names, and so its group.
@pytest.mark.molecule
@pytest.mark.parametrize('scenario', [pytest.param(s, marks=pytest.mark.xdist_group('molecule-%s' % s))
                                      for s in SCENARIOS])
def test_molecule_scenario(scenario):
    run_scenario(scenario, BIN, 'molecule-%s' % scenario)


@pytest.mark.molecule
@pytest.mark.xdist_group('molecule-default')
def test_default_scenario_on_ansible_core_2_17():
    if not (BIN_2_17 / 'molecule').exists():
        pytest.fail('no %s: run `make venv-2.17`' % BIN_2_17)
    run_scenario('default', BIN_2_17, 'molecule-default-ansible-core-2.17')
