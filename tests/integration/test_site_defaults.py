"""site.yml with an inventory that leaves go_env's cache variables alone.

site.yml runs go_cache, which publishes its shared caches, then go_env, which follows them with
-modcacherw (go_env_modcache_shared left at its default): no role runs another, and the second run
changes nothing.
The shared cache paths never enter go.env: the go launcher hands them to the accounts that can
write them. The tests run in file order on one container.
"""

import json

from tests.harness import VENV_2_17_BIN, VENV_BIN

from .conftest import MIRROR, PLATFORMS as ALL_PLATFORMS

# site.yml with the defaults, seen by an account the inventory never named: on every platform in make test.
PLATFORMS = tuple(ALL_PLATFORMS)

VARS = {'go_toolchain_version': '1.27', 'go_toolchain_release_index': str(MIRROR / 'index.json'),
        'go_toolchain_mirror': 'http://127.0.0.1:8080/'}


def go_env(target):
    """The environment every user's go command sees."""
    target.sh('id builder >/dev/null 2>&1 || useradd --create-home builder')
    return json.loads(target.sh("su - builder -c 'go env -json GOCACHE GOMODCACHE GOFLAGS'"))


def test_second_run_changes_nothing_and_go_keeps_every_account_on_caches_it_can_write(target):
    first = target.play(VARS)
    assert not first.failed, first.messages()
    again = target.play(VARS)
    assert not again.failed, again.messages()
    assert again.changed == 0, again.messages()
    # go_cache published its caches in the run, and go_env followed them: one go_env call, no change.
    published = again.result('Publish the shared caches')['ansible_facts']['go_cache_published']
    assert published == {'group': 'gobuilders', 'gocache': '/var/cache/go/build', 'gomodcache': '/var/cache/go/mod',
                         'go_env': True}
    # builder is in no group: Go's own caches (the launcher gives the shared ones to members only).
    seen = go_env(target)
    home = target.sh("su - builder -c 'echo $HOME'")
    assert seen == {'GOCACHE': home + '/.cache/go-build', 'GOMODCACHE': home + '/go/pkg/mod', 'GOFLAGS': '-modcacherw'}
    # Nor root: it never runs what members write into a shared cache.
    assert json.loads(target.sh('go env -json GOCACHE GOMODCACHE')) == {
        'GOCACHE': '/root/.cache/go-build', 'GOMODCACHE': '/root/go/pkg/mod'}
    assert target.sh('cat /etc/go-buildhost/shared-caches.env').splitlines()[-3:] == [
        'GROUP=gobuilders', 'GOCACHE=/var/cache/go/build', 'GOMODCACHE=/var/cache/go/mod']


def test_a_host_converged_by_one_ansible_core_is_a_no_op_for_the_other(target):
    """A fleet run from a shell on one ansible-core and from AWX on another: each run changes nothing.
    2.17 once rendered go_cache.fact's numbers and nulls as strings, so every run rewrote it and restarted
    the health check."""
    for bin_dir in (VENV_2_17_BIN, VENV_BIN):
        result = target.play(VARS, bin_dir=bin_dir)
        assert not result.failed, result.messages()
        assert result.changed == 0, (bin_dir, result.messages())
    fact = json.loads(target.sh('cat /etc/ansible/facts.d/go_cache.fact'))
    assert (fact['max_bytes'], fact['alert_rules']) == (20 * 1024 ** 3, None)


def test_turning_the_go_env_wiring_off_takes_effect_in_one_run(target):
    off = dict(VARS, go_cache_go_env_enabled=False)
    result = target.play(off)
    assert not result.failed, result.messages()
    assert target.sh('ls /etc/go-buildhost/shared-caches.env 2>/dev/null; true') == '', \
        'without the wiring, the launcher hands the shared caches to nobody'
    home = target.sh("su - builder -c 'echo $HOME'")
    assert go_env(target) == {'GOCACHE': home + '/.cache/go-build', 'GOMODCACHE': home + '/go/pkg/mod',
                              'GOFLAGS': ''}
    again = target.play(off)
    assert again.changed == 0, again.messages()
