"""Two site.yml runs started together against one host."""

from .conftest import MIRROR

VARS = {'go_toolchain_version': '1.27', 'go_toolchain_release_index': str(MIRROR / 'index.json'),
        'go_toolchain_mirror': 'http://127.0.0.1:8080/'}


def test_overlapping_runs_take_turns_and_converge(target):
    first = target.play(VARS, playbook='playbooks/go_toolchain.yml', background=True)
    second = target.play(VARS, playbook='playbooks/go_toolchain.yml', background=True)
    outputs = [proc.communicate(timeout=600) for proc in (first, second)]
    assert first.returncode == 0, outputs[0]
    assert second.returncode == 0, outputs[1]
    assert target.sh('go version').startswith('go version go1.27.')
    assert target.sh('ls -I bin /usr/local/lib/go').count('\n') == 0, 'one version (bin: the launcher)'
    assert target.sh('find /usr/local/lib/go /usr/local -maxdepth 1 -name ".tmp-*"') == ''
    assert target.play(VARS, playbook='playbooks/go_toolchain.yml').changed == 0


def test_a_held_lock_fails_clearly_after_the_timeout(target):
    target.sh('echo \'{"what": "a stuck run", "pid": 4242, "since": "2026-11-22T07:00:00Z"}\' '
              '> /run/go-buildhost.lock.holder')
    target.sh('systemd-run --unit=hold-lock flock /run/go-buildhost.lock sleep 60')
    try:
        result = target.play(dict(VARS, go_buildhost_lock_timeout=2), playbook='playbooks/go_toolchain.yml')
    finally:
        target.sh('systemctl stop hold-lock')
    assert result.failed
    assert 'Another go-buildhost run holds /run/go-buildhost.lock: a stuck run (pid 4242' in result.messages()
    assert 'go_buildhost_lock_timeout' in result.messages()
