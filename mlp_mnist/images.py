"""Digit pictures read for prediction, made to look like MNIST's.

MNIST's digits are white on black, scaled to fit a 20x20 box with their
aspect ratio kept and placed in a 28x28 frame with their centre of mass in
the middle. `read_digit` does the same, with Pillow, to a PNG or JPEG of
any size, so that a scan or a drawing reaches the network in the form it
was trained on; the tutorial itself only ever classifies MNIST rows.
"""
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import UserError

FORMATS = ('PNG', 'JPEG')
SIZE = 28  # MNIST's frame
BOX = 20  # the box MNIST scaled each digit into
INK = 100  # grey level (of 255) above which a pixel counts as ink


def read_digit(path, invert=False):
    """Return the PNG or JPEG at `path` as a (784,) float32 MNIST row.

    Pixels are byte / 256, as the loader gives them. `invert` is for dark
    ink on light paper. Raises UserError for a missing file or one that is
    not a PNG or JPEG image.
    """
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 million pixels on; up to its limit of
            # twice that, a picture is read and scaled down like any other
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as image:
                grey = to_grey(image, invert)
    except FileNotFoundError:
        raise UserError(f'{path}: no such file') from None
    except UnidentifiedImageError:
        raise UserError(f'{path}: not a PNG or JPEG image') from None
    except Image.DecompressionBombError:
        raise UserError(
            f'{path}: over {2 * Image.MAX_IMAGE_PIXELS:,} pixels, too large '
            'to read safely; scale it down') from None
    except (OSError, SyntaxError, ValueError) as e:
        raise UserError(f'{path}: cannot read the image ({e})') from None
    frame = mnist_frame(grey)
    return np.asarray(frame, np.float32).reshape(SIZE * SIZE) / 256


def to_grey(image, invert=False):
    """Return `image` as 8-bit grey, light ink on a black background.

    Transparent parts count as paper: black, or white with `invert`. The
    levels are stretched so that the median pixel, the paper, is black
    and the brightest white.
    """
    image = ImageOps.exif_transpose(image)
    if image.mode in ('RGBA', 'LA', 'PA') or 'transparency' in image.info:
        paper = (255, 255, 255, 255) if invert else (0, 0, 0, 255)
        image = Image.alpha_composite(Image.new('RGBA', image.size, paper),
                                      image.convert('RGBA'))
    grey = image.convert('L')
    if invert:
        grey = ImageOps.invert(grey)
    return ImageOps.autocontrast(grey, cutoff=(50, 0))


def mnist_frame(grey):
    """Return a 28x28 grey image of the digit in `grey`, framed as MNIST's.

    The ink's bounding box is scaled to fit 20x20, keeping its aspect
    ratio, and pasted so that its centre of mass falls in the middle. A
    picture without ink gives a black frame.
    """
    frame = Image.new('L', (SIZE, SIZE), 0)
    box = grey.point(lambda v: 255 if v > INK else 0).getbbox()
    if box is None:
        return frame
    digit = grey.crop(box)
    scale = BOX / max(digit.size)
    size = tuple(max(1, round(n * scale)) for n in digit.size)
    digit = digit.resize(size, Image.LANCZOS)

    pixels = np.asarray(digit, np.float64)
    mass = pixels.sum()
    if mass == 0:  # ink too sparse to survive the scaling
        return frame
    rows, cols = np.indices(pixels.shape)
    middle = SIZE / 2  # where MNIST's centres of mass lie
    top = round(middle - (rows * pixels).sum() / mass)
    left = round(middle - (cols * pixels).sum() / mass)
    # keep the whole digit inside the frame
    top = min(max(top, 0), SIZE - size[1])
    left = min(max(left, 0), SIZE - size[0])
    frame.paste(digit, (left, top))
    return frame
