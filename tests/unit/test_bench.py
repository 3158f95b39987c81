"""The ratios make bench reports (scripts/bench.py), from made-up medians: no Docker."""

import importlib.util
import sys

import pytest

from tests.integration.conftest import ROOT


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('bench_script', ROOT / 'scripts' / 'bench.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules['bench_script'] = module
    spec.loader.exec_module(module)
    return module


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
