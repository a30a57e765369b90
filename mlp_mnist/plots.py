"""Pictures of a training run: learning curve, hidden weights, confusions.

The walk-through looks at what the network learned with the Theano
tutorials' `tile_raster_images`; `weight_grid` draws the same kind of grid,
one 28x28 tile per hidden unit, with Pillow. The plots are matplotlib
figures drawn on its Agg canvas without pyplot, so importing this module
changes no global matplotlib setting.
"""
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from .files import write_atomically

DPI = 100
CURVE_SIZE = (8, 4.5)  # inches: 800 x 450 pixels
CONFUSION_SIZE = (6, 6)  # 600 x 600 pixels
TILE_SCALE = 2  # pixels per weight
TILE_GAP = 2  # pixels between tiles and around the grid


def confusion_matrix(y_true, y_pred, n_classes=10):
    """Return the (n_classes, n_classes) int counts of (true, predicted).

    Row i, column j counts the images of digit i predicted as j.
    """
    pairs = n_classes * np.asarray(y_true) + np.asarray(y_pred)
    counts = np.bincount(pairs.astype(np.int64), minlength=n_classes ** 2)
    return counts.reshape(n_classes, n_classes)


def grid_shape(n):
    """Return (rows, cols) of the most nearly square grid for n tiles."""
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def weight_grid(w_h, scale=TILE_SCALE, gap=TILE_GAP):
    """Return a grey PIL image of the columns of w_h as 28x28 tiles.

    w_h is (784, n_hidden); unit k is tile k, row by row. Each tile has
    its own scale: 0 is mid-grey, the unit's largest |weight| is white
    when positive and black when negative. Tiles are `scale` pixels per
    weight, `gap` white pixels apart.
    """
    n_hidden = w_h.shape[1]
    rows, cols = grid_shape(n_hidden)
    step = 28 * scale + gap
    grid = Image.new('L', (cols * step + gap, rows * step + gap), 255)
    for k in range(n_hidden):
        w = w_h[:, k].reshape(28, 28).astype(np.float64)
        top = np.abs(w).max()
        if top > 0:
            w = w / top  # in [-1, 1]
        pixels = np.round(127.5 + 127.5 * w).astype(np.uint8)
        tile = Image.fromarray(pixels, 'L').resize(
            (28 * scale, 28 * scale), Image.NEAREST)
        row, col = divmod(k, cols)
        grid.paste(tile, (gap + col * step, gap + row * step))
    return grid


def save_weight_grid(path, w_h):
    """Write `weight_grid(w_h)` to `path` as a PNG."""
    grid = weight_grid(w_h)
    write_atomically(path, lambda f: grid.save(f, format='PNG'))


def save_learning_curve(path, history, best_epoch):
    """Plot cost and accuracies per epoch to a PNG of 800 x 450 pixels.

    `history` is a list of dicts with epoch, cost, valid_acc and test_acc;
    a dashed line marks `best_epoch`, the epoch whose weights are kept.
    """
    epochs = [h['epoch'] for h in history]
    fig = Figure(figsize=CURVE_SIZE, dpi=DPI, layout='constrained')
    cost_ax, acc_ax = fig.subplots(1, 2)
    cost_ax.plot(epochs, [h['cost'] for h in history], 'o-', ms=3,
                 color='tab:red', label='training cost')
    cost_ax.set_ylabel('mean cross-entropy')
    for name, color in (('valid_acc', 'tab:blue'), ('test_acc', 'tab:green')):
        acc_ax.plot(epochs, [h[name] for h in history], 'o-', ms=3,
                    color=color, label=name)
    acc_ax.set_ylabel('accuracy')
    for ax in (cost_ax, acc_ax):
        ax.axvline(best_epoch, color='grey', linestyle='--',
                   label=f'best epoch {best_epoch}')
        ax.set_xlabel('epoch')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    _save_figure(path, fig)


def save_confusion_matrix(path, y_true, y_pred):
    """Draw the confusion matrix of a labelled set to a 600 x 600 PNG.

    Cells show counts; their shade is the fraction of the true digit's
    images, so a weak digit stands out however common it is.
    """
    counts = confusion_matrix(y_true, y_pred)
    n_classes = len(counts)
    fractions = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    accuracy = np.trace(counts) / max(counts.sum(), 1)

    fig = Figure(figsize=CONFUSION_SIZE, dpi=DPI, layout='constrained')
    ax = fig.subplots()
    ax.imshow(fractions, cmap='Blues', vmin=0, vmax=1)
    for i, j in np.ndindex(counts.shape):
        ax.text(j, i, str(counts[i, j]), ha='center', va='center',
                fontsize=8,
                color='white' if fractions[i, j] > 0.5 else 'black')
    ax.set_xticks(range(n_classes))
    ax.set_yticks(range(n_classes))
    ax.set_xlabel('predicted digit')
    ax.set_ylabel('true digit')
    ax.set_title(f'test set: {counts.sum()} images, '
                 f'accuracy {accuracy:.4f}')
    _save_figure(path, fig)


def _save_figure(path, fig):
    FigureCanvasAgg(fig)
    write_atomically(
        path, lambda f: fig.savefig(f, format='png', dpi=DPI))
