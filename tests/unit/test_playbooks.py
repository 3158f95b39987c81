"""Which hosts each play of site.yml and playbooks/audit.yml targets, as ansible-playbook resolves it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAY = re.compile(r'^\s+play #\d+ \([^)]*\): (?P<name>.+?)\tTAGS:.*\n\s+pattern: .*\n\s+hosts \((?P<count>\d+)\)',
                  re.MULTILINE)
AUDIT_PLAYS = ('Audit every role in check mode', 'Report drift', 'Publish the drift as a node_exporter textfile metric')


def play_hosts(playbook, *args):
    """{play name: number of hosts} from `ansible-playbook --list-hosts` against the demo inventory."""
    # ansible-test units sets ANSIBLE_INVENTORY=/dev/null: these plays read ansible.cfg's inventory.
    env = {k: v for k, v in os.environ.items() if k != 'ANSIBLE_INVENTORY'}
    env['ANSIBLE_CONFIG'] = str(ROOT / 'ansible.cfg')
    proc = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '--list-hosts', str(ROOT / playbook),
                           *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    plays = {m.group('name'): int(m.group('count')) for m in PLAY.finditer(proc.stdout)}
    assert plays, proc.stdout
    return plays


def test_site_without_the_audit_tag_runs_no_audit_play():
    # The roles' argument-spec checks are tagged always, so the never tag alone would run them
    # (and start the audit plays) in every site.yml run.
    plays = play_hosts('site.yml')
    assert all(plays[name] == 0 for name in AUDIT_PLAYS), plays
    assert plays['Install and activate the Go toolchain'] == 1


@pytest.mark.parametrize('args', [('--tags', 'audit'), ('--tags', 'go_cache,audit')])
def test_site_with_the_audit_tag_audits_every_build_host(args):
    plays = play_hosts('site.yml', *args)
    assert [plays[name] for name in AUDIT_PLAYS] == [1, 1, 1], plays


def test_audit_playbook_alone_audits_every_build_host():
    plays = play_hosts('playbooks/audit.yml')
    assert [plays[name] for name in AUDIT_PLAYS] == [1, 1, 1], plays


def imported(playbook):
    return [Path(play['ansible.builtin.import_playbook']).stem
            for play in yaml.safe_load((ROOT / playbook).read_text()) if 'ansible.builtin.import_playbook' in play]


def roles_of(playbook):
    return [role['role'].rsplit('.', 1)[1] for play in yaml.safe_load((ROOT / playbook).read_text())
            for role in play.get('roles', [])]


def test_go_cache_publishes_before_go_env_consumes():
    """go_env follows the caches go_cache published in the same run; its check fails on a stale publication."""
    order = imported('site.yml')
    assert order[:6] == ['go_toolchain', 'sysctl_tuning', 'build_cgroups', 'go_cache_server', 'go_cache', 'go_env']
    # The audit looks at the build hosts; the cache server's own group has its own plays.
    assert roles_of('playbooks/audit.yml') == [r for r in order[:6] if r != 'go_cache_server']
    assert roles_of('playbooks/remove.yml') == order[:6][::-1], 'the way back, in the reverse order'
