"""module_utils/path_guard.py: the rules that keep every path variable away from the system."""

import os

import pytest
from ansible_collections.go_buildhost.buildhost.plugins.module_utils import path_guard as guard
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.path_guard import Refused

NO_HOMES = set()


@pytest.mark.parametrize('path', ['/', '/usr', '/usr/bin', '/usr/local', '/usr/local/bin', '/etc', '/var',
                                  '/var/lib', '/var/cache', '/home', '/boot', '/lib64', '/proc', '/run',
                                  '/var/lib/prometheus', '/etc/systemd/system'])
def test_system_trees_are_refused_for_every_directory_kind(path):
    for kind in ('build_cache', 'mod_cache', 'install_root', 'metrics_dir'):
        with pytest.raises(Refused, match='^go_x_dir is %s, a system directory' % path):
            guard.check_dir(path, 'go_x_dir', kind, adopt=True, accounts=NO_HOMES)


def test_only_directories_of_their_own_pass():
    assert guard.system_tree('/usr/local/lib/go', set()) is None
    assert guard.system_tree('/var/cache/go/build', set()) is None
    assert guard.system_tree('/var/lib/prometheus/node-exporter', set()) is None
    assert guard.system_tree('/srv/homes', {'/srv/homes/alice'}) == '/srv/homes/alice'


def test_account_homes_and_what_holds_them_are_refused(tmp_path):
    home = tmp_path / 'home' / 'alice'
    home.mkdir(parents=True)
    with pytest.raises(Refused, match="an account's home"):
        guard.check_dir(str(home), 'go_cache_mod_dir', 'mod_cache', accounts={str(home)})
    with pytest.raises(Refused, match='which holds %s' % home):
        guard.check_dir(str(tmp_path / 'home'), 'go_cache_mod_dir', 'mod_cache', accounts={str(home)})
    # A cache inside a home is the user's own business.
    assert guard.check_dir(str(home / 'cache'), 'go_cache_mod_dir', 'mod_cache', accounts={str(home)}) is False


@pytest.mark.parametrize('path', ['var/cache/go', '/var/cache/go/', '/var/cache/../go', '/var//cache', '/var/./x'])
def test_paths_must_be_absolute_and_normal(path):
    with pytest.raises(Refused, match='^go_cache_build_dir must be'):
        guard.check_dir(path, 'go_cache_build_dir', 'build_cache', accounts=NO_HOMES)


def test_symlinked_parents_and_symlinks_are_refused(tmp_path):
    real = tmp_path / 'real'
    real.mkdir()
    (tmp_path / 'link').symlink_to(real)
    with pytest.raises(Refused, match='below the symlink %s' % (tmp_path / 'link')):
        guard.check_dir(str(tmp_path / 'link' / 'cache'), 'go_cache_build_dir', 'build_cache', accounts=NO_HOMES)
    with pytest.raises(Refused, match='a symlink to'):
        guard.check_dir(str(tmp_path / 'link'), 'go_cache_build_dir', 'build_cache', accounts=NO_HOMES)
    with pytest.raises(Refused, match='below the symlink'):
        guard.check_file(str(tmp_path / 'link' / 'rules.yml'), 'go_cache_alert_rules_path', accounts=NO_HOMES)


def test_a_foreign_non_empty_directory_needs_the_opt_in(tmp_path):
    foreign = tmp_path / 'data'
    foreign.mkdir()
    (foreign / 'passwd').write_text('root:x:0:0::/root:/bin/sh\n')
    with pytest.raises(Refused, match='does not look like a Go build cache .it holds passwd.*go_cache_adopt_dirs'):
        guard.check_dir(str(foreign), 'go_cache_build_dir', 'build_cache', adopt_var='go_cache_adopt_dirs',
                        accounts=NO_HOMES)
    assert guard.check_dir(str(foreign), 'go_cache_build_dir', 'build_cache', adopt=True, accounts=NO_HOMES)
    assert guard.check_dir(str(foreign), 'go_cache_build_dir', 'build_cache', accounts=NO_HOMES,
                           owned=lambda st: True), 'a directory the role already owns needs no opt-in'


def test_what_each_kind_expects_to_find(tmp_path):
    build = tmp_path / 'build'
    (build / '0a').mkdir(parents=True)
    (build / 'README').write_text('This directory holds cached build artifacts from the Go build system.\n')
    (build / 'trim.txt').write_text('1\n')
    assert guard.check_dir(str(build), 'v', 'build_cache', accounts=NO_HOMES)
    mod = tmp_path / 'mod'
    (mod / 'cache' / 'download').mkdir(parents=True)
    (mod / 'golang.org').mkdir()
    assert guard.check_dir(str(mod), 'v', 'mod_cache', accounts=NO_HOMES)
    root = tmp_path / 'root'
    for name in ('1.27.3', '1.26.6', '.tmp-go-buildhost-x'):
        (root / name).mkdir(parents=True)
    assert guard.check_dir(str(root), 'v', 'install_root', accounts=NO_HOMES)
    metrics = tmp_path / 'metrics'
    metrics.mkdir()
    (metrics / 'apt.prom').write_text('')
    (metrics / '.go_cache.prom.x1y2.tmp').write_text('')
    (metrics / 'notes.txt').write_text('')
    assert guard.check_dir(str(metrics), 'v', 'metrics_dir', accounts=NO_HOMES), \
        'the role writes one file there and never walks it: other files may stay'
    (build / 'fuzz').mkdir()
    (build / 'lost+found').mkdir()
    # remote: the GOCACHEPROG helper's tier, which stays with the cache when go_cache is removed and reinstalled.
    (build / 'remote' / 'o').mkdir(parents=True)
    assert guard.check_dir(str(build), 'v', 'build_cache', accounts=NO_HOMES)
    store = tmp_path / 'store'
    for name in ('ac', 'cas', '.tmp'):
        (store / name).mkdir(parents=True)
    assert guard.check_dir(str(store), 'v', 'cache_store', accounts=NO_HOMES)
    (store / 'index.html').write_text('')
    with pytest.raises(Refused, match='does not look like a fleet cache store'):
        guard.check_dir(str(store), 'v', 'cache_store', accounts=NO_HOMES)
    (root / 'bin').mkdir()
    assert guard.check_dir(str(root), 'v', 'install_root', accounts=NO_HOMES), 'bin holds the go launcher'
    (root / 'src').mkdir()
    with pytest.raises(Refused, match='installed Go toolchains'):
        guard.check_dir(str(root), 'v', 'install_root', accounts=NO_HOMES)


def test_a_file_is_replaced_only_when_the_roles_wrote_it(tmp_path):
    ours = tmp_path / 'ours.yml'
    ours.write_text('# Ansible managed\n# go_cache role (go-buildhost): alerts\n')
    assert guard.check_file(str(ours), 'go_cache_alert_rules_path', accounts=NO_HOMES) is True
    assert guard.check_file(str(tmp_path / 'new.yml'), 'go_cache_alert_rules_path', accounts=NO_HOMES) is False
    theirs = tmp_path / 'passwd'
    theirs.write_text('root:x:0:0::/root:/bin/sh\n')
    with pytest.raises(Refused, match='the role did not write .it has no "go-buildhost" line'):
        guard.check_file(str(theirs), 'go_cache_alert_rules_path', accounts=NO_HOMES)
    with pytest.raises(Refused, match='not a regular file'):
        guard.check_file(str(tmp_path), 'go_cache_alert_rules_path', accounts=NO_HOMES)
    with pytest.raises(Refused, match='a system directory, not a file path'):
        guard.check_file('/etc', 'go_cache_alert_rules_path', accounts=NO_HOMES)


def test_a_package_file_is_named_and_never_replaced(tmp_path):
    packaged = tmp_path / 'go'
    packaged.write_text('#!/bin/sh\nexec /usr/lib/go-1.19/bin/go "$@"\n')
    with pytest.raises(Refused, match='a file of the installed package golang-go: the role never replaces it'):
        guard.check_file(str(packaged), 'go_toolchain_bin_dirs', package_owner=lambda p: 'golang-go',
                         accounts=NO_HOMES)
    asked = []
    assert guard.check_file(str(tmp_path / 'new'), 'v', package_owner=asked.append, accounts=NO_HOMES) is False
    packaged.write_text('#!/bin/sh\n# go-buildhost\n')
    assert guard.check_file(str(packaged), 'v', package_owner=asked.append, accounts=NO_HOMES) is True
    assert asked == [], 'dpkg is asked only about a file that lacks the marker: a no-op run starts no process'


def test_dpkg_owner_parses_dpkg_query_and_ignores_diversions():
    answers = {'/usr/bin/go': (0, 'golang-go: /usr/bin/go\n', ''),
               '/usr/bin/x': (0, 'diversion by foo from: /usr/bin/x\n', ''),
               '/bin/x': (1, '', ''), '/bin/none': (1, '', ''),
               '/usr/bin/none': (1, '', 'dpkg-query: no path found matching pattern /usr/bin/none\n')}
    owner = guard.dpkg_owner(lambda argv: answers[argv[-1]], '/usr/bin/dpkg-query')
    assert owner('/usr/bin/go') == 'golang-go'
    assert owner('/usr/bin/x') is None
    assert owner('/usr/bin/none') is None
    assert guard.dpkg_owner(None, None)('/usr/bin/go') is None


@pytest.mark.skipif(not os.path.isdir('/usr/bin'), reason='needs /usr/bin')
def test_homes_lists_real_directories_only():
    found = guard.homes()
    assert '/' not in found and all(os.path.isdir(h) for h in found)


@pytest.mark.parametrize('path', ['/usr/local/cache', '/usr/lib/x86_64-linux-gnu', '/etc/ssh', '/boot/efi',
                                  '/sys/fs/cgroup', '/root/cache', '/var/lib/dpkg/info'])
def test_a_cache_never_lives_inside_a_system_tree_even_with_the_opt_in(path):
    with pytest.raises(Refused, match='inside .*, which belongs to the system'):
        guard.check_dir(path, 'go_cache_build_dir', 'build_cache', adopt=True, accounts=NO_HOMES)
    assert guard.check_dir('/usr/local/lib/go', 'go_toolchain_install_root', 'install_root', adopt=True,
                           accounts=NO_HOMES) in (True, False), 'an install root may live below /usr/local'


def test_a_marker_may_be_a_tuple_with_an_earlier_release_s(tmp_path):
    old = tmp_path / 'rules.yml'
    old.write_text('#\n# Ansible managed\n#\n# go_cache role: alerts\n')
    markers = ('go_cache role (go-buildhost):', '# go_cache role:')
    assert guard.check_file(str(old), 'go_cache_alert_rules_path', marker=markers, accounts=NO_HOMES)
    with pytest.raises(Refused, match='has no "go_cache role .go-buildhost.:" line'):
        guard.check_file(str(old), 'go_cache_alert_rules_path', marker='go_cache role (go-buildhost):',
                         accounts=NO_HOMES)
