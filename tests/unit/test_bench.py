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


CORE_2_17 = {'facts_only_core217': case(1.6), 'floor_no_facts_core217': case(2.4), 'site_fresh_core217': case(16.0),
             'site_noop_core217': case(4.0)}


def test_core_2_17_ratios_beside_the_main_venvs(bench):
    ratios = bench.ratios(dict(DOCKER, **CORE_2_17))
    assert ratios['site_noop_over_facts_only'] == 3.0
    assert ratios['site_noop_over_facts_only_core217'] == 2.5
    assert ratios['floor_no_facts_over_facts_only_core217'] == 1.5
    assert ratios['site_noop_core217_over_site_noop'] == 0.89
    assert ratios['facts_only_core217_over_facts_only'] == 1.07
    assert not any(k.endswith('_core217') for k in bench.ratios(DOCKER))


@pytest.mark.parametrize(('requested', 'exists', 'measured', 'why'), [
    (None, True, True, 'default: .cache/venv-2.17 exists'),
    (None, False, False, 'default: no .cache/venv-2.17 (`make venv-2.17` builds it)'),
    (True, True, True, '--core-2-17'),
    (False, True, False, '--no-core-2-17'),
    (False, False, False, '--no-core-2-17'),
])
def test_core_2_17_is_on_by_default_when_its_venv_exists(bench, requested, exists, measured, why):
    assert bench.core_2_17_choice(requested, exists) == (measured, why)


def test_core_2_17_asked_for_without_its_venv_says_how_to_build_it(bench):
    with pytest.raises(SystemExit, match='make venv-2.17'):
        bench.core_2_17_choice(True, False)


def test_core_version_from_ansible_playbook_version(bench):
    assert bench.parse_core_version('ansible-playbook [core 2.17.14]\n  config file = x\n') == '2.17.14'
    assert bench.parse_core_version('ansible-playbook [core 2.19.0rc1]\n') == '2.19.0rc1'
    with pytest.raises(ValueError, match='no ansible-core version'):
        bench.parse_core_version('ansible-playbook 2.9.27\n')


def cpu_run(controller, hosts):
    return {'controller_s': controller, 'hosts_s': hosts}


def test_controller_cpu_per_host_of_the_fleet_noop(bench):
    cases = dict(DOCKER, ssh_site_noop_1=case(4.0), ssh_site_noop_12=case(18.0))
    cpu_runs = {'ssh_site_noop_1': [cpu_run(3.3, 1.6)] * 3,
                'ssh_site_noop_12': [cpu_run(18.6, 23.0), cpu_run(18.0, 23.5), cpu_run(17.4, 22.0)]}
    cpu, ratios = bench.cpu_figures(cpu_runs, cases, 12, 2)
    assert (cpu['ssh_site_noop_12']['controller_s'], cpu['ssh_site_noop_12']['hosts_s']) == (18.0, 23.0)
    assert ratios == {'ssh_fleet_controller_cpu_per_host_s': 1.5,
                      'ssh_fleet_controller_cpu_per_core_over_single_noop': 2.25}
    # No fleet (--fleet 0) or no CPU split: no per-host figure.
    assert bench.cpu_figures({'ssh_site_noop_1': [cpu_run(3.3, 1.6)]}, cases, 0, 2)[1] == {}
    assert bench.cpu_figures({'ssh_site_noop_12': []}, cases, 12, 2) == ({}, {})


def result_of(bench, cases, **extra):
    """A result as main() records it, without the CPU split."""
    return dict({'date': '2026-11-23 09:00 UTC', 'machine': 'x86_64', 'cpus': 2, 'go_version': '1.27.3', 'runs': 3,
                 'file': 'bench/results/x.json', 'cases': cases, 'ratios': bench.ratios(cases), 'fleet': 12}, **extra)


def table_rows(block, first_cell):
    return [line for line in block.splitlines() if line.startswith('| %s |' % first_cell)]


def test_block_names_both_ansible_cores_and_puts_their_ratios_side_by_side(bench):
    cases = dict(DOCKER, **CORE_2_17, ssh_facts_only_1=case(1.25), ssh_site_noop_1=case(4.0),
                 ssh_facts_only_12=case(3.5), ssh_site_noop_12=case(18.0))
    result = result_of(bench, cases, ansible_core={'.venv': '2.19.14', '.cache/venv-2.17': '2.17.14'},
                       core_2_17={'measured': True, 'why': 'default: .cache/venv-2.17 exists'})
    result['cpu'], cpu_ratios = bench.cpu_figures({'ssh_site_noop_12': [cpu_run(18.0, 23.0)]}, cases, 12, 2)
    result['ratios'].update(cpu_ratios)
    block = bench.render_block(result)
    lines = block.splitlines()
    assert lines[0] == bench.MARK_BEGIN and lines[-1] == bench.MARK_END
    assert ('ansible-core 2.19.14 from `.venv` and, for the `*_core217` cases, ansible-core 2.17.14 from '
            '`.cache/venv-2.17` (default: .cache/venv-2.17 exists), 3 runs per case') in lines[1]
    assert table_rows(block, 'site_noop_core217') == ['| site_noop_core217 | 4.00 s | 4.00 |']
    assert table_rows(block, 'facts_only_core217') == ['| facts_only_core217 | 1.60 s | 1.60 |']
    noop_rows = [i for i, line in enumerate(lines) if line.startswith('| site.yml no-op / facts-only')]
    assert [lines[i] for i in noop_rows] == ['| site.yml no-op / facts-only, ansible-core 2.19 | 3.00 | at most 2.3 |',
                                             '| site.yml no-op / facts-only, ansible-core 2.17 | 2.50 | at most 2.3 |']
    assert noop_rows[1] == noop_rows[0] + 1
    assert table_rows(block, 'floor: five module calls, no facts / facts-only, ansible-core 2.17') == [
        '| floor: five module calls, no facts / facts-only, ansible-core 2.17 | 1.50 | |']
    assert table_rows(block, 'controller CPU per host, 12-host SSH no-op') == [
        '| controller CPU per host, 12-host SSH no-op | 1.50 s | at most 0.8 s |']


def test_block_says_when_ansible_core_2_17_was_not_measured(bench):
    why = 'default: no .cache/venv-2.17 (`make venv-2.17` builds it)'
    result = result_of(bench, dict(DOCKER), ansible_core={'.venv': '2.19.14'},
                       core_2_17={'measured': False, 'why': why})
    block = bench.render_block(result)
    assert ('ansible-core 2.19.14 from `.venv`; ansible-core 2.17 not measured (default: no .cache/venv-2.17 '
            '(`make venv-2.17` builds it)), 3 runs per case') in block
    assert 'core217' not in block and 'ansible-core 2.17 |' not in block
    assert 'controller CPU per host' not in block


def test_block_of_a_result_from_before_the_versions_were_recorded(bench):
    block = bench.render_block(result_of(bench, dict(DOCKER)))
    assert 'Go 1.27.3 from the local mirror, 3 runs per case, median shown' in block
    assert '| site.yml no-op / facts-only | 3.00 | at most 2.3 |' in block


def test_write_docs_replaces_only_the_generated_block(bench, monkeypatch, tmp_path):
    (tmp_path / 'docs').mkdir()
    doc = tmp_path / 'docs' / 'benchmarks.md'
    doc.write_text('# Benchmarks\n\nintro\n%s\nold\n%s\n\nafter\n' % (bench.MARK_BEGIN, bench.MARK_END))
    monkeypatch.setattr(bench, 'ROOT', tmp_path)
    result = result_of(bench, dict(DOCKER), ansible_core={'.venv': '2.19.14'},
                       core_2_17={'measured': False, 'why': 'x'})
    bench.write_docs(result)
    assert doc.read_text() == '# Benchmarks\n\nintro\n%s\n\nafter\n' % bench.render_block(result)


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


def test_the_fleet_noop_against_the_baseline_in_the_same_run(bench):
    cases = dict(DOCKER, ssh_facts_only_1=case(1.5), ssh_site_noop_1=case(4.0), ssh_site_noop_12=case(20.0),
                 ssh_baseline_site_noop_12=case(25.0))
    assert bench.ratios(cases)['ssh_fleet_noop_over_baseline'] == 0.8
    cpu_runs = {'ssh_site_noop_12': [cpu_run(18.0, 23.0)] * 3, 'ssh_baseline_site_noop_12': [cpu_run(24.0, 23.0)] * 3}
    cpu, ratios = bench.cpu_figures(cpu_runs, cases, 12, 2)
    assert ratios['ssh_fleet_controller_cpu_per_host_s'] == 1.5
    assert ratios['ssh_baseline_controller_cpu_per_host_s'] == 2.0
    result = result_of(bench, cases, baseline='804d4c5', cpu=cpu)
    result['ratios'].update(ratios)
    block = bench.render_block(result)
    assert table_rows(block, 'SSH: site.yml no-op, 12 hosts / the same at 804d4c5') == [
        '| SSH: site.yml no-op, 12 hosts / the same at 804d4c5 | 0.80 | |']
    assert table_rows(block, 'controller CPU per host, 12-host SSH no-op at 804d4c5') == [
        '| controller CPU per host, 12-host SSH no-op at 804d4c5 | 2.00 s | |']
    # Without a baseline fleet (--fleet 0, or no --baseline) there is no such ratio.
    assert 'ssh_fleet_noop_over_baseline' not in bench.ratios(dict(DOCKER, ssh_facts_only_1=case(1.5),
                                                                   ssh_site_noop_1=case(4.0),
                                                                   ssh_site_noop_12=case(20.0)))


def test_bench_noop_summary_splits_the_controller_cpu_per_host():
    """scripts/bench_noop.py: medians per case, the main process and the workers added up, per host."""
    bench_noop = importlib.import_module('scripts.bench_noop')

    def run(wall, main, children, changed=0):
        return {'wall_s': wall, 'main_cpu_s': main, 'children_cpu_s': children, 'changed': changed, 'tasks': 444}

    cases = {'ssh12_this': [run(26.0, 6.0, 19.0), run(27.0, 6.6, 19.8), run(25.0, 6.2, 18.2, changed=2)],
             'docker_2.19_this': [run(6.0, 2.0, 3.0)]}
    rows = bench_noop.summary(cases, {'ssh12_this': 12, 'docker_2.19_this': 1})
    fleet = rows['ssh12_this']
    assert (fleet['wall_s'], fleet['main_cpu_s'], fleet['children_cpu_s']) == (26.0, 6.2, 19.0)
    assert fleet['cpu_s'] == 25.2 and fleet['cpu_per_host_s'] == 2.1
    assert fleet['tasks_per_host'] == 37 and fleet['changed'] == [0, 0, 2] and fleet['runs'] == 3
    assert rows['docker_2.19_this']['cpu_per_host_s'] == 5.0
