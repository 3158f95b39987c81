"""The order pytest-xdist hands out work (`make test`: -n 3 --dist loadgroup).

pytest-xdist gives each worker a first batch of groups in collection order (two each here, with
about thirty groups: each Molecule scenario, the collection tests, the unit tests, each integration
module on each platform), then one group at a time to whichever worker is free. So the longest
groups come first, each paired with a short one: the vm scenario (QEMU without KVM) with the unit
tests, the fleet with the collection tests, and the short integration groups fill in around the
other scenarios. Without xdist the order changes nothing a test relies on: every module's tests
keep their order.
"""

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
