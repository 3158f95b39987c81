"""The order pytest-xdist hands out work (`make test`: -n 3 --dist loadgroup --no-loadscope-reorder).

The groups (each Molecule scenario, the collection tests, the unit tests, each integration module on
each platform) go out in collection order, which this hook sets: the vm scenario (QEMU without KVM),
the unit tests, the fleet, the collection tests, the other scenarios, then the integration groups.
Each worker gets one group, then another whenever it has two tests or fewer left to run: the vm
scenario's worker takes the collection tests next, the fleet's a scenario, and the unit tests'
worker joins as soon as they are done. Without --no-loadscope-reorder, pytest-xdist would sort the
groups by their number of tests, and the one-test Molecule scenarios would come last: in a
clean-clone run the vm scenario started 17 minutes in. Without xdist the order changes nothing a
test relies on: every module's tests keep their order.
"""

import json
import os
from pathlib import Path

import pytest

FIRST = ('tests/test_molecule.py::test_molecule_scenario[vm]', 'tests/unit/',
         'tests/test_molecule.py::test_molecule_scenario[fleet]', 'tests/collection/',
         'tests/test_molecule.py', 'tests/integration/')


def _rank(item):
    for rank, prefix in enumerate(FIRST):
        if item.nodeid.startswith(prefix):
            return rank
    return len(FIRST)


@pytest.hookimpl(trylast=True)  # after pytest's own reordering by fixture scope, which would undo it
def pytest_collection_modifyitems(items):
    items.sort(key=_rank)  # stable: within a rank, the order pytest chose stays


# The time each group took (each Molecule scenario, each integration module on each platform, the unit
# and the collection tests), summed over its tests' setup, call and teardown: what docs/benchmarks.md
# records per scenario. Printed before pytest's summary line and written to .cache/logs/test-times.json.
_GROUP_SECONDS = {}


def _group(report):
    nodeid = report.nodeid
    suffix = nodeid.rsplit('@', 1)[1] if '@' in nodeid.rsplit('::', 1)[-1] else ''
    if suffix and not suffix.endswith(']'):  # pytest-xdist's @group, not an @ inside a parameter
        return suffix
    path = nodeid.split('::', 1)[0]
    if path == 'tests/test_molecule.py':
        return nodeid[len(path) + 2:]
    return path


def pytest_runtest_logreport(report):
    group = _group(report)
    _GROUP_SECONDS[group] = _GROUP_SECONDS.get(group, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    # Not in an xdist worker, and not in the testinfra run that Molecule's verify starts inside `make test`.
    if (not _GROUP_SECONDS or hasattr(terminalreporter.config, 'workerinput')
            or os.environ.get('MOLECULE_SCENARIO_NAME')):
        return
    ranked = sorted(_GROUP_SECONDS.items(), key=lambda kv: -kv[1])
    terminalreporter.write_sep('=', 'time per group (setup + call + teardown, each on one worker)')
    for group, seconds in ranked:
        terminalreporter.write_line('%8.1f s  %s' % (seconds, group))
    logs = Path(__file__).resolve().parents[1] / '.cache' / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    (logs / 'test-times.json').write_text(json.dumps(dict(ranked), indent=1) + '\n')
