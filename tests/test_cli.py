import importlib.util
import re

import numpy as np
import pytest

from conftest import ROOT


def load_script(name):
    spec = importlib.util.spec_from_file_location(
        name, ROOT / 'scripts' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_script = load_script('train')

EPOCH_LINE = re.compile(
    r'^epoch (\d+)/(\d+)  cost (\d+\.\d{4})  valid_acc (\d\.\d{4})  '
    r'test_acc (\d\.\d{4})  time (\d+\.\d)s$')


def test_one_epoch_end_to_end(idx_folder, tmp_path, capsys):
    out = tmp_path / 'out'
    rc = train_script.main(['--data', str(idx_folder), '--epochs', '1',
                            '--n-hidden', '32', '--batch-size', '50',
                            '--out', str(out)])
    lines = capsys.readouterr().out.splitlines()

    assert rc == 0
    settings = dict(pair.split('=', 1) for pair in lines[0].split())
    assert settings['device'] == 'cpu' and settings['floatX'] == 'float32'
    assert settings['n_hidden'] == '32' and settings['n_train'] == '500'
    assert {'backend', 'blas', 'compiledir'} <= set(settings)
    match = EPOCH_LINE.match(lines[1])
    assert match and match.group(1, 2) == ('1', '1')
    assert lines[2].startswith('done  1 epochs')
    weights = np.load(out / 'weights.npz', allow_pickle=False)
    assert weights['w_h'].shape == (784, 32)
    assert weights['w_o'].shape == (32, 10)
    assert sorted(p.name for p in out.iterdir()) == ['weights.npz']


def test_epoch_number_is_padded_to_width_of_epochs(idx_folder, capsys):
    train_script.main(['--data', str(idx_folder), '--epochs', '10',
                       '--n-hidden', '8', '--batch-size', '250'])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith('epoch  1/10  ')
    assert lines[10].startswith('epoch 10/10  ')


@pytest.mark.parametrize('make, message', [
    (lambda p: p / 'missing.pkl.gz', 'no such file or folder'),
    (lambda p: p, 'missing train-images-idx3-ubyte'),
])
def test_bad_data_path_is_one_error_line(tmp_path, capsys, make, message):
    rc = train_script.main(['--data', str(make(tmp_path)), '--epochs', '1'])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith('error: ') and message in err
    assert err.count('\n') == 1


def test_unwritable_out_is_refused_before_training(idx_folder, tmp_path,
                                                    capsys):
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    rc = train_script.main(['--data', str(idx_folder),
                            '--out', str(blocker / 'out')])
    captured = capsys.readouterr()
    assert rc == 1 and captured.out == ''
    assert captured.err.startswith(f'error: {blocker / "out"}: cannot write')
