"""The go_cache_server_store module: the fleet cache's store and metrics directories, against temporary paths;
and the server role's README, which lists every metric its eviction program writes."""

import os
import pwd
import re
import stat

import pytest

from .conftest import ROOT, ModuleFail
from .test_go_cache_server_evict import load


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def args(tmp_path, **extra):
    return dict({'path': str(tmp_path / 'store'), 'owner': 'nobody', 'group': 'nogroup',
                 'metrics_dir': str(tmp_path / 'prom' / 'textfile')}, **extra)


def test_the_store_is_created_checked_and_then_left_alone(tmp_path, run_module):
    check = run_module('go_cache_server_store', args(tmp_path), check=True, diff=True)
    assert check['changed'] and check['created'] and not (tmp_path / 'store').exists()
    assert 'store: missing' in check['diff']['before']
    result = run_module('go_cache_server_store', args(tmp_path))
    assert result['created'] and len(result['changed_dirs']) == 5
    nobody = pwd.getpwnam('nobody').pw_uid
    for name, want in (('store', 0o750), ('store/ac', 0o750), ('store/cas', 0o750), ('store/.tmp', 0o700)):
        assert mode(tmp_path / name) == want, name
        assert os.lstat(tmp_path / name).st_uid == nobody, name
    assert mode(tmp_path / 'prom' / 'textfile') == 0o755
    again = run_module('go_cache_server_store', args(tmp_path))
    assert again['changed'] is False and again['created'] is False
    # Drift of the store's own directories is repaired; nothing inside is touched.
    (tmp_path / 'store/cas/obj').write_text('x')
    os.chmod(tmp_path / 'store/cas/obj', 0o644)
    os.chmod(tmp_path / 'store/ac', 0o777)  # noqa: S103 - the drift under test
    fixed = run_module('go_cache_server_store', args(tmp_path))
    assert fixed['changed_dirs'] == [str(tmp_path / 'store/ac')] and mode(tmp_path / 'store/ac') == 0o750
    assert mode(tmp_path / 'store/cas/obj') == 0o644


@pytest.mark.parametrize('path, message', [
    ('/usr/lib', 'go_cache_server_dir is /usr/lib, a system directory'),
    ('/var', 'go_cache_server_dir is /var, a system directory'),
    ('/usr/lib/go-cache', 'go_cache_server_dir is /usr/lib/go-cache, inside /usr, which belongs to the system'),
    ('/var/cache/../lib', 'go_cache_server_dir must be a normal absolute path'),
])
def test_a_store_that_could_hurt_the_system_is_refused(tmp_path, run_module, path, message):
    with pytest.raises(ModuleFail, match=re.escape(message)):
        run_module('go_cache_server_store', args(tmp_path, path=path))
    assert not (tmp_path / 'prom').exists(), 'nothing was changed'


def test_an_existing_directory_with_other_content_or_a_symlink_is_refused(tmp_path, run_module):
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data/report.pdf').write_text('someone else\'s')
    before = os.lstat(tmp_path / 'data')
    with pytest.raises(ModuleFail, match='does not look like a fleet cache store'):
        run_module('go_cache_server_store', args(tmp_path, path=str(tmp_path / 'data')))
    after = os.lstat(tmp_path / 'data')
    assert (after.st_uid, after.st_mode) == (before.st_uid, before.st_mode) and not (tmp_path / 'prom').exists()
    (tmp_path / 'real').mkdir()
    (tmp_path / 'link').symlink_to(tmp_path / 'real')
    with pytest.raises(ModuleFail, match='below the symlink|a symlink to'):
        run_module('go_cache_server_store', args(tmp_path, path=str(tmp_path / 'link' / 'store')))
    assert list((tmp_path / 'real').iterdir()) == []


def test_readme_documents_every_metric_the_eviction_writes():
    program = load()
    readme = (ROOT / 'roles/go_cache_server/README.md').read_text()
    rows = dict(re.findall(r'^\| `(go_cache_server_[a-z_]+)` \| (gauge|counter) \|', readme, re.MULTILINE))
    assert rows == {name: kind for name, kind, _help in program.METRICS}
