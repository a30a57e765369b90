"""Atomic writes and the folders a run makes."""
import pytest

from mlp_mnist.errors import UserError
from mlp_mnist.files import missing_folders, remove_empty, write_atomically


def test_atomic_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / 'weights.npz'
    path.write_bytes(b'old')
    write_atomically(path, lambda f: f.write(b'new'))
    assert path.read_bytes() == b'new'
    assert [p.name for p in tmp_path.iterdir()] == ['weights.npz']


def test_failed_writer_keeps_the_old_file(tmp_path):
    path = tmp_path / 'history.csv'
    path.write_bytes(b'old')

    def half_then_fail(f):
        f.write(b'ne')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, half_then_fail)
    assert path.read_bytes() == b'old'
    assert [p.name for p in tmp_path.iterdir()] == ['history.csv']


def test_folder_in_the_way_is_one_line_and_left_alone(tmp_path):
    path = tmp_path / 'checkpoint.npz'
    (path / 'inside').mkdir(parents=True)
    with pytest.raises(UserError) as info:
        write_atomically(path, lambda f: f.write(b'data'))
    assert str(info.value) == (
        f'{path}: cannot write it (Is a directory); free some space, '
        'or move what is in the way')
    assert sorted(p.name for p in tmp_path.rglob('*')) == [
        'checkpoint.npz', 'inside']

    # a folder where the hidden file goes is not removed either
    hidden = tmp_path / '.other.npz.tmp'
    hidden.mkdir()
    with pytest.raises(UserError, match='Is a directory'):
        write_atomically(tmp_path / 'other.npz', lambda f: f.write(b'x'))
    assert hidden.is_dir() and not (tmp_path / 'other.npz').exists()


def test_only_the_folders_made_and_left_empty_are_removed(tmp_path):
    kept = tmp_path / 'kept'
    kept.mkdir()
    out = kept / 'a' / 'b'
    made = missing_folders(out)
    assert made == [out, kept / 'a']
    out.mkdir(parents=True)
    (kept / 'a' / 'used.txt').write_text('')
    remove_empty(made)
    assert not out.exists() and (kept / 'a' / 'used.txt').exists()
