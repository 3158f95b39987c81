"""Verify the go_toolchain role on the real system: commands, links, facts, modes."""

import json
import os
import time

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('go_buildhosts')

INSTALL_ROOT = '/usr/local/lib/go'
FACT = '/etc/ansible/facts.d/go_toolchain.fact'

CONTEXTS = {
    'root login shell': "bash -lc 'go version'",
    'root non-login bash -c': "bash -c 'go version'",
    'builder login shell': "su - builder -c 'go version'",
    'sudo -u builder': 'sudo -u builder go version',
    'env -i (empty environment)': "env -i /bin/sh -c 'go version'",
    'systemd service as builder': 'systemd-run --quiet --wait --pipe --property=User=builder go version',
    'gofmt, non-login': "bash -c 'echo package  main | gofmt'",
}


@pytest.mark.parametrize('context', sorted(CONTEXTS))
def test_go_runs_in_every_context(host, go_version, context):
    out = host.check_output(CONTEXTS[context])
    if context.startswith('gofmt'):
        assert out.strip() == 'package main'
    else:
        assert out.strip() == 'go version go%s linux/amd64' % go_version


def test_go_runs_under_cron(host, go_version, cron_path):
    """A real user crontab (the distribution's cron PATH: /usr/bin:/bin on Debian) ran `go version`
    after the converge."""
    converged = host.file(FACT).mtime.timestamp()
    deadline = time.time() + 75
    while time.time() < deadline:
        record, env = host.file('/tmp/cron-go-version'), host.file('/tmp/cron-env')
        # Each redirection of the crontab's line truncates its file before the command writes to it: wait for
        # both files' content, written after the converge.
        if (record.exists and record.mtime.timestamp() > converged and record.content_string.strip()
                and env.exists and env.mtime.timestamp() >= record.mtime.timestamp() and 'PATH=' in env.content_string):
            break
        time.sleep(3)
    else:
        pytest.fail('cron did not run `go version` within 75 s of the converge')
    assert host.file('/tmp/cron-go-version').content_string.strip() == 'go version go%s linux/amd64' % go_version
    assert 'PATH=%s\n' % cron_path in host.file('/tmp/cron-env').content_string


def test_goroot_and_links(host, go_version):
    goroot = '%s/%s' % (INSTALL_ROOT, go_version)
    link = host.file('/usr/local/go')
    assert link.is_symlink and link.linked_to == goroot
    for bin_dir in ('/usr/local/bin', '/usr/bin'):
        for command in ('go', 'gofmt'):
            entry = host.file('%s/%s' % (bin_dir, command))
            assert entry.is_symlink
            # go runs the launcher (it hands the shared caches to the accounts that can write them).
            want = '%s/bin/go' % INSTALL_ROOT if command == 'go' else '/usr/local/go/bin/%s' % command
            assert host.check_output('readlink %s/%s' % (bin_dir, command)) == want
    env = json.loads(host.check_output('go env -json GOROOT GOVERSION GOTOOLCHAIN'))
    assert env['GOROOT'] == goroot
    assert env['GOVERSION'] == 'go%s' % go_version


def test_local_fact(host, go_version):
    fact = host.file(FACT)
    assert fact.user == 'root' and fact.group == 'root' and fact.mode == 0o644
    assert json.loads(fact.content_string) == {
        'active_version': go_version,
        'goroot': '%s/%s' % (INSTALL_ROOT, go_version),
        'link': '/usr/local/go',
        'install_root': INSTALL_ROOT,
        'installed_versions': [go_version],
    }


def test_tree_owned_by_root_and_not_world_writable(host, go_version):
    goroot = host.file('%s/%s' % (INSTALL_ROOT, go_version))
    assert goroot.user == 'root' and goroot.group == 'root' and goroot.mode == 0o755
    assert host.file('%s/bin/go' % goroot.path).mode == 0o755
    assert host.check_output('find %s ! -user root -o ! -group root | head -5' % INSTALL_ROOT) == ''
    assert host.check_output('find %s -perm -o+w ! -type l | head -5' % INSTALL_ROOT) == ''


def test_no_temporaries_left(host):
    leftovers = host.check_output('find %s /usr/local /usr/local/bin /usr/bin -maxdepth 1 -name ".tmp-*"'
                                  % INSTALL_ROOT)
    assert leftovers == ''


def test_builder_can_build_and_run_a_program(host, go_version):
    script = (
        'set -e; d=$(mktemp -d); cd "$d"; '
        'printf "package main\\nimport (\\"fmt\\"; \\"runtime\\")\\n'
        'func main() { fmt.Println(\\"hello from\\", runtime.Version()) }\\n" > main.go; '
        'GOPROXY=off go run main.go; rm -rf "$d"'
    )
    out = host.check_output("sudo -u builder -H bash -c '%s'" % script.replace("'", "'\\''"))
    assert out.strip() == 'hello from go%s' % go_version
