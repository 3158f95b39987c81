"""Run every Molecule scenario (molecule/*/molecule.yml) as one test each.

The full log of each scenario goes to .cache/logs/molecule-<scenario>.log;
a failure shows its tail.
"""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / '.venv' / 'bin'
SCENARIOS = sorted(p.parent.name for p in (ROOT / 'molecule').glob('*/molecule.yml'))


@pytest.mark.molecule
@pytest.mark.parametrize('scenario', SCENARIOS)
def test_molecule_scenario(scenario):
    logs = ROOT / '.cache' / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / ('molecule-%s.log' % scenario)
    env = dict(os.environ, PATH='%s:%s' % (BIN, os.environ['PATH']), ANSIBLE_FORCE_COLOR='0', PY_COLORS='0')
    with log.open('w') as out:
        proc = subprocess.run([str(BIN / 'molecule'), 'test', '--scenario-name', scenario], cwd=ROOT, env=env,
                              stdout=out, stderr=subprocess.STDOUT, timeout=1800, check=False)
    if proc.returncode != 0:
        tail = log.read_text().splitlines()[-150:]
        pytest.fail('molecule test -s %s failed (rc=%d); full log: %s\n%s'
                    % (scenario, proc.returncode, log, '\n'.join(tail)), pytrace=False)
