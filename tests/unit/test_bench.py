"""The ratios make bench reports (scripts/bench.py), from made-up medians: no Docker."""

import importlib

import pytest


@pytest.fixture(scope='module')
def bench():
    return importlib.import_module('scripts.bench')


def case(seconds):
    return {'median_s': seconds, 'runs_s': [seconds]}


DOCKER = {'facts_only': case(1.5), 'floor': case(3.3), 'floor_no_facts': case(2.7), 'toolchain_noop': case(2.0),
          'go_env_noop': case(1.8), 'site_noop': case(4.5)}


def test_floor_ratios_against_facts_only(bench):
    ratios = bench.ratios(DOCKER)
    assert ratios['site_noop_over_facts_only'] == 3.0
    assert ratios['floor_over_facts_only'] == 2.2
    assert ratios['floor_no_facts_over_facts_only'] == 1.8
    assert 'ssh_fleet_floor_over_single_floor' not in ratios


def test_fleet_floor_is_compared_with_the_single_host_floor(bench):
    cases = dict(DOCKER, ssh_facts_only_1=case(1.25), ssh_site_noop_1=case(4.0), ssh_floor_1=case(3.0),
                 ssh_facts_only_12=case(3.5), ssh_site_noop_12=case(18.0), ssh_floor_12=case(12.0))
    ratios = bench.ratios(cases)
    assert ratios['ssh_floor_over_facts_only'] == 2.4
    assert ratios['ssh_fleet_noop_over_single_noop'] == 4.5
    assert ratios['ssh_fleet_floor_over_single_floor'] == 4.0


def test_floor_plays_are_five_distinct_modules_with_and_without_facts(bench, tmp_path):
    import yaml  # noqa: PLC0415 - ansible's dependency, in the venv

    with_facts, no_facts = (yaml.safe_load(p.read_text())[0] for p in bench.write_floor_plays(tmp_path))
    assert (with_facts['gather_facts'], with_facts['gather_subset']) == (True, ['min'])
    assert no_facts['gather_facts'] is False and 'gather_subset' not in no_facts
    for play in (with_facts, no_facts):
        modules = [next(k for k in task if k.startswith('ansible.builtin.')) for task in play['tasks']]
        assert len(modules) == 5 and len(set(modules)) == 5
        assert play['become'] is True


class FakeClock:
    """cpu_ticks() and the clock of a machine whose busy share per 5 s window is given in turn."""

    def __init__(self, busy_shares):
        self.busy_shares = list(busy_shares)
        self.now = 0.0
        self.busy = self.idle = 0

    def sleep(self, seconds):
        self.now += seconds
        share = self.busy_shares.pop(0) if self.busy_shares else 1.0
        ticks = int(seconds * 200)  # two cores at 100 ticks a second
        self.busy += int(ticks * share)
        self.idle += ticks - int(ticks * share)

    def ticks(self):
        return self.busy, self.idle


@pytest.mark.parametrize(('busy_shares', 'waited'), [
    ([0.05], 5.0),                     # quiet from the start: one window
    ([1.0, 0.6, 0.3, 0.1], 20.0),      # a fleet going away: waits until the window is 85% idle
    ([1.0] * 100, 240.0),              # never quiet: gives up at the timeout
])
def test_wait_for_quiet(monkeypatch, busy_shares, waited):
    from tests import harness as conftest  # noqa: PLC0415

    clock = FakeClock(busy_shares)
    monkeypatch.setattr(conftest, 'cpu_ticks', clock.ticks)
    monkeypatch.setattr(conftest.time, 'sleep', clock.sleep)
    monkeypatch.setattr(conftest.time, 'monotonic', lambda: clock.now)
    assert conftest.wait_for_quiet() == waited
