"""managed_files: the plan, diff and atomic apply of a set of files, on real files in tmp_path."""

import os
import stat

import pytest
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.atomic_fs import TMP_PREFIX
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.managed_files import (
    KEEP, FileSet, NotRegularFile, put,
)


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def leftovers(directory):
    return [n for n in os.listdir(directory) if n.startswith(TMP_PREFIX)]


def test_plan_sorts_files_into_create_update_attrs_remove_and_unchanged(tmp_path):
    (tmp_path / 'same').write_text('same\n')
    os.chmod(tmp_path / 'same', 0o644)
    (tmp_path / 'old').write_text('old\n')
    (tmp_path / 'drift').write_text('drift\n')
    os.chmod(tmp_path / 'drift', 0o600)
    (tmp_path / 'gone').write_text('gone\n')
    files = FileSet()
    entries = [files.want(str(tmp_path / 'same'), 'same\n'), files.want(str(tmp_path / 'new'), 'new\n'),
               files.want(str(tmp_path / 'old'), 'new\n', os.stat(tmp_path / 'old').st_mode & 0o7777),
               files.want(str(tmp_path / 'drift'), 'drift\n'), files.remove(str(tmp_path / 'gone')),
               files.remove(str(tmp_path / 'never'))]
    assert [e.action for e in entries] == [None, 'create', 'update', 'attrs', 'remove', None]
    assert files.paths() == [str(tmp_path / n) for n in ('new', 'old', 'drift', 'gone')]
    assert files.paths('create') == [str(tmp_path / 'new')]
    assert entries[1].created and not entries[2].created
    assert entries[4].before == 'gone\n', 'a removed file is read, for the diff'


def test_a_file_is_read_once(tmp_path, monkeypatch):
    (tmp_path / 'a').write_text('a\n')
    files = FileSet()
    opened = []
    real_open = open

    def counting_open(path, *args, **kwargs):
        opened.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr('builtins.open', counting_open)
    assert files.read(str(tmp_path / 'a')) == 'a\n'
    files.want(str(tmp_path / 'a'), 'b\n')
    files.want(str(tmp_path / 'a'), 'c\n')
    assert opened == [str(tmp_path / 'a')]


def test_diff_lists_changed_files_with_their_headers(tmp_path):
    (tmp_path / 'a').write_text('a\n')
    (tmp_path / 'b').write_text('b\n')
    (tmp_path / 'gone').write_text('x\n')
    files = FileSet()
    files.want(str(tmp_path / 'a'), 'a2\n')
    files.want(str(tmp_path / 'b'), 'b\n')
    files.remove(str(tmp_path / 'gone'))
    assert files.diff() == [
        dict(before_header=str(tmp_path / 'a'), after_header=str(tmp_path / 'a'), before='a\n', after='a2\n'),
        dict(before_header=str(tmp_path / 'gone'), after_header=str(tmp_path / 'gone'), before='x\n', after='')]
    custom = files.diff(headers=lambda e: (e.path, e.path + ' (absent)' if e.content is None else e.path),
                        texts=lambda e: ('<%s>' % e.before, '<%s>' % e.content))
    assert custom[1]['after_header'].endswith('gone (absent)') and custom[0]['after'] == '<a2\n>'


def test_apply_writes_atomically_with_mode_owner_and_parents(tmp_path):
    (tmp_path / 'gone').write_text('x\n')
    target = tmp_path / 'etc/app/conf'
    files = FileSet(directory_mode=0o750)
    files.want(str(target), 'conf\n', 0o640, (os.getuid(), os.getgid()))
    files.remove(str(tmp_path / 'gone'))
    removed = []
    done = files.apply(removed=removed.append)
    assert [e.path for e in done] == [str(target), str(tmp_path / 'gone')]
    assert target.read_text() == 'conf\n' and mode_of(target) == 0o640
    assert mode_of(tmp_path / 'etc') == 0o750 and mode_of(tmp_path / 'etc/app') == 0o750
    assert not (tmp_path / 'gone').exists() and removed == [str(tmp_path / 'gone')]
    assert leftovers(target.parent) == [] and leftovers(tmp_path) == []
    again = FileSet()
    again.want(str(target), 'conf\n', 0o640, (os.getuid(), os.getgid()))
    again.remove(str(tmp_path / 'gone'))
    assert not again.changed and again.apply() == []


def test_an_update_replaces_the_inode_and_a_mode_fix_keeps_it(tmp_path):
    path = tmp_path / 'a'
    path.write_text('a\n')
    os.chmod(path, 0o600)
    inode = os.stat(path).st_ino
    files = FileSet()
    files.want(str(path), 'a\n', 0o644)
    files.apply()
    assert os.stat(path).st_ino == inode and mode_of(path) == 0o644
    files = FileSet()
    files.want(str(path), 'b\n', 0o644)
    files.apply()
    assert os.stat(path).st_ino != inode and path.read_text() == 'b\n'


def test_keep_takes_the_files_own_mode_and_never_compares_it(tmp_path):
    path = tmp_path / 'go.env'
    path.write_text('A=1\n')
    os.chmod(path, 0o600)
    files = FileSet(follow_symlinks=True)
    unchanged = files.want(str(path), 'A=1\n', KEEP, KEEP)
    assert not unchanged.changed
    files = FileSet(follow_symlinks=True)
    files.want(str(path), 'A=2\n', KEEP, KEEP)
    files.want(str(tmp_path / 'new.env'), 'B=1\n', KEEP, KEEP)
    files.apply()
    assert mode_of(path) == 0o600 and path.read_text() == 'A=2\n'
    assert mode_of(tmp_path / 'new.env') == 0o644


def test_a_failed_validation_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / 'rules'
    path.write_text('old\n')
    seen = []

    def validate(tmp):
        with open(tmp) as handle:
            seen.append(handle.read())
        raise ValueError('bad')

    files = FileSet()
    files.want(str(path), 'new\n', validate=validate)
    with pytest.raises(ValueError):
        files.apply()
    assert seen == ['new\n'] and path.read_text() == 'old\n' and leftovers(tmp_path) == []


def test_on_error_gets_the_entry_and_the_error(tmp_path):
    files = FileSet()
    (tmp_path / 'dir').mkdir()
    (tmp_path / 'dir/inside').write_text('x')
    files.want(str(tmp_path / 'dir'), 'x\n')
    seen = []

    def on_error(entry, exc):
        seen.append((entry.path, type(exc)))
        raise RuntimeError('failed')

    with pytest.raises(RuntimeError):
        files.apply(on_error=on_error)
    assert seen[0][0] == str(tmp_path / 'dir') and issubclass(seen[0][1], OSError)


def test_regular_only_refuses_a_symlink_or_directory(tmp_path):
    (tmp_path / 'link').symlink_to(tmp_path / 'elsewhere')
    (tmp_path / 'dir').mkdir()
    files = FileSet(regular_only=True)
    for name in ('link', 'dir'):
        with pytest.raises(NotRegularFile):
            files.want(str(tmp_path / name), 'x')
    entry = files.remove(str(tmp_path / 'link'), read=False)
    assert entry.action == 'remove' and entry.before is None


def test_binary_sets_compare_bytes(tmp_path):
    (tmp_path / 'b').write_bytes(b'\x00\xff')
    files = FileSet(binary=True)
    assert not files.want(str(tmp_path / 'b'), b'\x00\xff', mode_of(tmp_path / 'b')).changed
    assert files.want(str(tmp_path / 'b'), b'\x00', mode_of(tmp_path / 'b')).action == 'update'


def test_put_writes_one_file_now(tmp_path):
    put(str(tmp_path / 'state/x.json'), '{}\n', 0o600)
    assert (tmp_path / 'state/x.json').read_text() == '{}\n' and mode_of(tmp_path / 'state/x.json') == 0o600


def test_remove_unlinks_a_dangling_symlink_even_in_a_following_set(tmp_path):
    (tmp_path / 'link').symlink_to(tmp_path / 'nowhere')
    files = FileSet(follow_symlinks=True)
    assert files.remove(str(tmp_path / 'link')).action == 'remove'
    files.apply()
    assert not os.path.lexists(tmp_path / 'link')
