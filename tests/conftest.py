"""The order pytest-xdist hands out work (`make test`: -n 3 --dist loadgroup): longest first.

Each Molecule scenario is one long group, and the vm scenario (QEMU without KVM) the longest: they
start first, so that the short integration groups fill the other workers around them and no long
group starts last. Without xdist the order changes nothing a test relies on: every module's tests
keep their file order.
"""

FIRST = ('tests/test_molecule.py::test_molecule_scenario[vm]', 'tests/test_molecule.py::test_molecule_scenario[fleet]',
         'tests/test_molecule.py', 'tests/collection/', 'tests/integration/')


def _rank(item):
    for rank, prefix in enumerate(FIRST):
        if item.nodeid.startswith(prefix):
            return rank
    return len(FIRST)


def pytest_collection_modifyitems(items):
    items.sort(key=_rank)  # stable: within a rank, collection order stays
