import numpy as np
import pytest
from PIL import Image

from mlp_mnist.plots import (confusion_matrix, grid_shape,
                             save_confusion_matrix, save_learning_curve,
                             save_weight_grid, weight_grid)


def test_confusion_matrix_counts_true_against_predicted():
    counts = confusion_matrix([0, 0, 1, 2, 2, 2, 9], [0, 1, 1, 2, 0, 2, 3])
    expected = np.zeros((10, 10), int)
    expected[0, 0] = expected[0, 1] = expected[1, 1] = expected[2, 0] = 1
    expected[2, 2] = 2
    expected[9, 3] = 1
    np.testing.assert_array_equal(counts, expected)


@pytest.mark.parametrize('n, shape', [(1, (1, 1)), (5, (2, 3)),
                                      (16, (4, 4)), (625, (25, 25)),
                                      (626, (25, 26))])
def test_grid_is_nearly_square(n, shape):
    assert grid_shape(n) == shape


def test_weight_grid_draws_each_unit_as_a_28x28_tile():
    # 5 units: 2 rows of 3 tiles, 2 pixels per weight, 2-pixel white gaps
    w_h = np.zeros((784, 5), np.float32)
    w_h[2 * 28 + 5, 3] = 0.5  # unit 3, row 2, column 5: its largest weight
    w_h[20 * 28 + 10, 3] = -0.25  # row 20, column 10
    w_h[0, 4] = -1.0  # unit 4, top left corner: its only weight
    grid = np.asarray(weight_grid(w_h))

    assert grid.shape == (2 + 2 * 58, 2 + 3 * 58)
    top, left = 2 + 58, 2  # unit 3 is the first tile of the second row
    tile = grid[top:top + 56, left:left + 56]
    expected = np.full((56, 56), 128)  # 0 is mid-grey (127.5 rounded)
    expected[4:6, 10:12] = 255
    expected[40:42, 20:22] = 64  # -0.25 / 0.5 of the way to black
    np.testing.assert_array_equal(tile, expected)
    unit_4 = grid[top:top + 56, left + 58:left + 58 + 56]
    assert unit_4[0, 0] == unit_4[1, 1] == 0 and unit_4[2, 2] == 128
    assert (grid[2:58, 2:58] == 128).all()  # unit 0: all weights 0
    assert (grid[top:, left + 2 * 58:-2] == 255).all()  # no sixth unit
    assert (grid[:2] == 255).all() and (grid[:, 58:60] == 255).all()


def test_pictures_are_pngs_of_the_stated_size(tmp_path):
    history = [dict(epoch=1, cost=2.0, valid_acc=0.5, test_acc=0.4)]
    save_learning_curve(tmp_path / 'curve.png', history, best_epoch=1)
    save_confusion_matrix(tmp_path / 'confusion.png', [1, 2, 3], [1, 2, 2])
    save_weight_grid(tmp_path / 'weights.png', np.ones((784, 10)))

    sizes = {'curve.png': (800, 450), 'confusion.png': (600, 600),
             'weights.png': (2 + 4 * 58, 2 + 3 * 58)}  # 10 units: 3 x 4
    for name, size in sizes.items():
        with Image.open(tmp_path / name) as image:
            assert image.format == 'PNG' and image.size == size
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(sizes)
