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
import threading
import time
from pathlib import Path

import pytest
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

from tests.harness import cpu_ticks

# Ansible's collection loader, before pytest collects any test module. tests/integration/test_issue14_awx.py
# imports from tests/unit, whose modules import the collection (ansible_collections.go_buildhost.buildhost):
# imported before the loader, as a plain namespace package, the collection stayed broken for every later
# import, and the unit tests failed in `make test` only (tests/unit/test_suite_imports.py).
_AnsibleCollectionFinder(paths=[str(Path(__file__).resolve().parents[1] / 'collections')])._install()

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


# How busy the machine's CPUs were while the tests ran (the share of clock ticks not idle, iowait counted
# idle), sampled every 30 s by the controller: whether more pytest-xdist workers could go faster.
_CPU_SAMPLES = []
_CPU_STOP = threading.Event()
_CPU_START = pytest.StashKey()


def _sample_cpu(period=30.0):
    before = cpu_ticks()
    while not _CPU_STOP.wait(period):
        after = cpu_ticks()
        busy, idle = after[0] - before[0], after[1] - before[1]
        _CPU_SAMPLES.append(round(busy / max(busy + idle, 1), 3))
        before = after


def _controller(config):
    return not hasattr(config, 'workerinput') and not os.environ.get('MOLECULE_SCENARIO_NAME')


def pytest_sessionstart(session):
    if _controller(session.config) and Path('/proc/stat').exists():
        session.config.stash[_CPU_START] = (time.monotonic(), cpu_ticks())
        threading.Thread(target=_sample_cpu, daemon=True).start()


def _cpu_report(terminalreporter):
    start = terminalreporter.config.stash.get(_CPU_START, None)
    if start is None:
        return None
    _CPU_STOP.set()
    now = cpu_ticks()
    busy, idle = now[0] - start[1][0], now[1] - start[1][1]
    share = busy / max(busy + idle, 1)
    saturated = sum(1 for s in _CPU_SAMPLES if s >= 0.95)
    terminalreporter.write_line('CPUs busy %.0f%% of %.0f min (%d of %d 30-s windows at 95%% or more)' % (
        100 * share, (time.monotonic() - start[0]) / 60, saturated, len(_CPU_SAMPLES)))
    return {'busy': round(share, 3), 'samples_30s': _CPU_SAMPLES}


def pytest_runtest_logreport(report):
    group = _group(report)
    _GROUP_SECONDS[group] = _GROUP_SECONDS.get(group, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    # Not in an xdist worker, and not in the testinfra run that Molecule's verify starts inside `make test`.
    if not _GROUP_SECONDS or not _controller(terminalreporter.config):
        return
    ranked = sorted(_GROUP_SECONDS.items(), key=lambda kv: -kv[1])
    terminalreporter.write_sep('=', 'time per group (setup + call + teardown, each on one worker)')
    for group, seconds in ranked:
        terminalreporter.write_line('%8.1f s  %s' % (seconds, group))
    cpu = _cpu_report(terminalreporter)
    logs = Path(__file__).resolve().parents[1] / '.cache' / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    (logs / 'test-times.json').write_text(json.dumps(dict(ranked), indent=1) + '\n')
    if cpu is not None:
        (logs / 'test-cpu.json').write_text(json.dumps(cpu) + '\n')
