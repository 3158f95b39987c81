"""go_toolchain through site.yml against a real container
(Debian 12 in make test, every platform in make test-platforms).

Upgrade and downgrade, a run killed mid-extraction, every source (HTTP on
the target's loopback, file:// on the target, controller download, a
tarball on the controller), check mode, bad input and removal. The tests
run in file order and share one container.
"""

import hashlib
import json
import tarfile
import threading
import time

import pytest

from .conftest import MIRROR

LINK = '/usr/local/go'
ROOT = '/usr/local/lib/go'  # one directory per version, and bin/ for the go launcher (ls -I bin)
BASE = {'go_toolchain_release_index': str(MIRROR / 'index.json'), 'go_toolchain_mirror': 'http://127.0.0.1:8080/'}


@pytest.fixture(scope='module', autouse=True)
def _toolchain_play(target):
    """These tests are about the toolchain: run its playbook, not every role of site.yml."""
    target.default_playbook = 'playbooks/go_toolchain.yml'


@pytest.fixture(scope='module')
def versions(releases):
    ordered = sorted(releases, key=lambda v: tuple(int(p) for p in v.split('.')))
    assert len(ordered) >= 2, 'the mirror fixture needs two versions'
    return ordered[-2], ordered[-1]


def go_version(target):
    return target.sh('go version')


def temporaries(target):
    return target.sh('find %s /usr/local /usr/local/bin -maxdepth 1 -name ".tmp-*" 2>/dev/null; true' % ROOT)


def assert_active(target, version):
    assert go_version(target) == 'go version go%s linux/amd64' % version
    assert target.sh('readlink %s' % LINK) == '%s/%s' % (ROOT, version)
    fact = json.loads(target.sh('cat /etc/ansible/facts.d/go_toolchain.fact'))
    assert fact['active_version'] == version
    assert temporaries(target) == ''


def test_fresh_install_of_an_exact_version(target, versions):
    old, _new = versions
    result = target.play(dict(BASE, go_toolchain_version=old))
    assert not result.failed, result.messages()
    assert result.changed >= 1
    assert_active(target, old)


def test_check_mode_reports_the_upgrade_without_doing_it(target, versions):
    old, new = versions
    result = target.play(dict(BASE, go_toolchain_version=new.rsplit('.', 1)[0]), '--check', '--diff')
    assert not result.failed, result.messages()
    step = result.result('Ensure the active Go toolchain is')
    assert step['changed'] is True and step['archive_needed'] is True
    assert '%s -> %s/%s' % (LINK, ROOT, new) in step['diff']['after']
    assert_active(target, old)
    assert target.sh('ls -I bin %s' % ROOT) == old


def test_upgrade_to_a_minor_resolves_its_newest_patch(target, versions):
    old, new = versions
    result = target.play(dict(BASE, go_toolchain_version=new.rsplit('.', 1)[0]))
    assert not result.failed, result.messages()
    step = result.result('Ensure the active Go toolchain is')
    assert step['previous_version'] == old and step['version'] == new
    assert_active(target, new)
    assert target.sh('ls -I bin %s' % ROOT).split() == [old, new]


def test_rerun_changes_nothing(target, versions):
    result = target.play(dict(BASE, go_toolchain_version=versions[1]))
    assert not result.failed, result.messages()
    assert result.changed == 0


def test_downgrade_switches_back_without_a_download(target, versions):
    old, new = versions
    target.sh('systemctl stop go-mirror')
    try:
        result = target.play(dict(BASE, go_toolchain_version=old))
    finally:
        target.sh('systemctl start go-mirror 2>/dev/null || systemd-run --unit=go-mirror python3 -m http.server '
                  '--bind 127.0.0.1 --directory /srv/go-mirror 8080')
    assert not result.failed, result.messages()
    assert result.result('Ensure the active Go toolchain is')['archive_needed'] is False
    assert_active(target, old)


def test_keep_versions_prunes_but_never_the_active_one(target, versions):
    old, new = versions
    result = target.play(dict(BASE, go_toolchain_version=old, go_toolchain_keep_versions=1))
    assert not result.failed, result.messages()
    assert result.result('Ensure the active Go toolchain is')['removed_versions'] == [new]
    assert target.sh('ls -I bin %s' % ROOT) == old


def test_run_killed_mid_extraction_never_breaks_go(target, versions):
    old, new = versions
    failures = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            out = target.sh('%s/bin/go version' % LINK, check=False)
            if not out.startswith('go version go'):
                failures.append(out or 'no output')
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        proc = target.play(dict(BASE, go_toolchain_version=new), background=True)
        deadline = time.time() + 120
        while not target.sh('ls -d %s/.tmp-go-buildhost-extract-*/tree/go/src 2>/dev/null; true' % ROOT):
            assert proc.poll() is None, 'the run ended before extraction began: %s' % proc.communicate()
            assert time.time() < deadline, 'extraction never started'
            time.sleep(0.05)
        # kill -9 the module (tar's parent) and tar, as a power cut would
        target.sh('for p in $(pgrep -x tar); do kill -9 $(ps -o ppid= -p $p) $p; done')
        proc.kill()
        proc.communicate()
        assert target.sh('ls -d %s/.tmp-go-buildhost-extract-* 2>/dev/null; true' % ROOT), \
            'the kill should have left the partial extraction behind'
        time.sleep(0.5)
    finally:
        stop.set()
        watcher.join()
    assert failures == []
    assert go_version(target) == 'go version go%s linux/amd64' % old

    result = target.play(dict(BASE, go_toolchain_version=new))
    assert not result.failed, result.messages()
    assert 'interrupted run' in ' '.join(result.result('Ensure the active Go toolchain is')['actions'])
    assert_active(target, new)
    assert target.play(dict(BASE, go_toolchain_version=new)).changed == 0


def test_file_url_mirror_on_the_target(target, versions):
    old, _new = versions
    target.sh('rm -rf %s/%s' % (ROOT, old))
    result = target.play(dict(BASE, go_toolchain_version=old, go_toolchain_mirror='file:///srv/go-mirror/'))
    assert not result.failed, result.messages()
    assert result.result('Ensure the active Go toolchain is')['archive_needed'] is True
    assert_active(target, old)


def test_controller_download_fetches_once_and_copies(target, versions, releases, tmp_path):
    _old, new = versions
    target.sh('rm -rf %s/%s' % (ROOT, new))
    cache = tmp_path / 'controller-cache'
    result = target.play(dict(BASE, go_toolchain_version=new, go_toolchain_download_on_controller=True,
                              go_toolchain_mirror='file://%s/' % MIRROR, go_toolchain_controller_cache=str(cache)))
    assert not result.failed, result.messages()
    filename, sha = releases[new]
    assert sorted(p.name for p in cache.iterdir()) == [filename]
    assert result.result('Download each needed archive')['changed'] is True
    assert_active(target, new)
    again = target.play(dict(BASE, go_toolchain_version=new, go_toolchain_download_on_controller=True,
                             go_toolchain_mirror='file:///nonexistent/', go_toolchain_controller_cache=str(cache)))
    assert again.changed == 0, 'a converged host must need neither the mirror nor a copy'


def test_archive_on_the_controller_with_a_pinned_checksum(target, versions, releases):
    old, _new = versions
    target.sh('rm -rf %s/%s' % (ROOT, old))
    filename, sha = releases[old]
    result = target.play(dict(BASE, go_toolchain_version=old, go_toolchain_sha256=sha,
                              go_toolchain_release_index='http://127.0.0.1:9/never-read',
                              go_toolchain_archive_src=str(MIRROR / filename)))
    assert not result.failed, result.messages()
    assert_active(target, old)


# ---- bad input: a clear error, the active toolchain untouched, no temporaries ----

def assert_refused(target, result, *fragments, active=None):
    assert result.failed
    text = result.messages()
    for fragment in fragments:
        assert fragment in text, text
    if active:
        assert_active(target, active)
    assert temporaries(target) == ''


@pytest.fixture
def only_old_installed(target, versions):
    old, new = versions
    result = target.play(dict(BASE, go_toolchain_version=old, go_toolchain_keep_versions=1))
    assert not result.failed, result.messages()
    return old, new


@pytest.mark.refusal_matrix('resolved on the controller')
def test_unknown_version(target, only_old_installed):
    old, _ = only_old_installed
    result = target.play(dict(BASE, go_toolchain_version='1.99.1'))
    assert_refused(target, result, "go_toolchain_version: version '1.99.1' is not in the release index",
                   'newest stable release', active=old)


@pytest.mark.refusal_matrix('resolved on the controller')
def test_version_with_garbage(target, only_old_installed):
    old, _ = only_old_installed
    result = target.play(dict(BASE, go_toolchain_version='1.27.3; rm -rf /'))
    assert_refused(target, result, 'go_toolchain_version "1.27.3; rm -rf /" is not a Go version', active=old)


def test_checksum_mismatch(target, only_old_installed):
    old, new = only_old_installed
    result = target.play(dict(BASE, go_toolchain_version=new, go_toolchain_sha256='0' * 64))
    assert_refused(target, result, 'Checksum mismatch', 'expected sha256 ' + '0' * 64, active=old)
    assert target.sh('ls -I bin %s' % ROOT) == old


def test_truncated_tarball_on_the_controller(target, only_old_installed, releases, tmp_path):
    old, new = only_old_installed
    filename, _sha = releases[new]
    truncated = tmp_path / filename
    truncated.write_bytes((MIRROR / filename).read_bytes()[:5_000_000])
    result = target.play(dict(BASE, go_toolchain_version=new, go_toolchain_archive_src=str(truncated)))
    assert_refused(target, result, 'Checksum mismatch', 'corrupted or truncated', active=old)


@pytest.mark.refusal_matrix('resolved on the controller')
def test_unreachable_index(target, only_old_installed):
    old, _ = only_old_installed
    result = target.play(dict(BASE, go_toolchain_version='1.27',
                              go_toolchain_release_index='http://127.0.0.1:9/dl/?mode=json'))
    assert_refused(target, result, 'Cannot read the Go release index http://127.0.0.1:9/dl/?mode=json',
                   'go_toolchain_release_index', active=old)


@pytest.mark.refusal_matrix('resolved on the controller')
def test_malformed_index(target, only_old_installed, tmp_path):
    old, _ = only_old_installed
    bad = tmp_path / 'index.json'
    bad.write_text('[{"version": "go1.27.3", "files": [}')
    result = target.play(dict(BASE, go_toolchain_version='1.27', go_toolchain_release_index=str(bad)))
    assert_refused(target, result, '(go_toolchain_release_index) is not valid JSON', active=old)


@pytest.mark.refusal_matrix('resolved on the controller')
def test_unsupported_architecture(target, only_old_installed):
    old, _ = only_old_installed
    result = target.play(dict(BASE, go_toolchain_version='1.27', go_toolchain_arch='riscv64'))
    assert_refused(target, result, 'go_toolchain_arch', 'riscv64', active=old)


@pytest.mark.refusal_matrix('resolved on the controller')
def test_relative_install_root(target, only_old_installed):
    old, _ = only_old_installed
    result = target.play(dict(BASE, go_toolchain_version='1.27', go_toolchain_install_root='usr/local/lib/go'))
    assert_refused(target, result, 'go_toolchain_install_root must be an absolute path', active=old)
    assert target.sh('ls -d /usr/local/usr 2>/dev/null; true') == ''


def test_top_directory_not_go(target, only_old_installed, releases, tmp_path):
    old, new = only_old_installed
    filename, _sha = releases[new]
    repacked = tmp_path / filename
    with tarfile.open(MIRROR / filename) as src, tarfile.open(repacked, 'w:gz') as dst:
        for member in src:
            if member.name.startswith('go/bin/') or member.name in ('go', 'go/bin', 'go/VERSION'):
                data = src.extractfile(member) if member.isfile() else None
                member.name = 'golang' + member.name[2:]
                dst.addfile(member, data)
    sha = hashlib.sha256(repacked.read_bytes()).hexdigest()
    result = target.play(dict(BASE, go_toolchain_version=new, go_toolchain_sha256=sha,
                              go_toolchain_archive_src=str(repacked)))
    assert_refused(target, result, 'is not an official Go archive: its top directory must be go/, found golang',
                   active=old)


def test_disk_full_during_extraction(target, only_old_installed):
    old, new = only_old_installed
    target.sh('mkdir -p /mnt/small && mount -t tmpfs -o size=120m tmpfs /mnt/small')
    try:
        result = target.play(dict(BASE, go_toolchain_version=new, go_toolchain_install_root='/mnt/small/go',
                                  go_toolchain_link='/mnt/small/current', go_toolchain_bin_dirs=[]))
        assert_refused(target, result, '(go_toolchain_install_root) failed', 'No space left on device', active=old)
        assert target.sh('ls -A /mnt/small/go') == ''
        assert target.sh('df --output=used -B1M /mnt/small | tail -1').strip() in ('0', '1')
    finally:
        target.sh('umount /mnt/small')


def test_state_absent_removes_everything(target, versions):
    result = target.play(dict(BASE, go_toolchain_state='absent'))
    assert not result.failed, result.messages()
    assert target.sh('ls -A %s %s /usr/local/bin/go /etc/ansible/facts.d/go_toolchain.fact 2>/dev/null; true'
                     % (ROOT, LINK)) == ''
    assert target.sh('command -v go; true') == ''
    assert target.play(dict(BASE, go_toolchain_state='absent')).changed == 0
