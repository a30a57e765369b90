"""Argument types shared by the scripts: numbers checked as they are parsed.

argparse turns the ArgumentTypeError these raise into a one-line usage
error naming the flag, so a nonsense value never reaches the training code.
"""
import argparse
import math
from pathlib import Path


def whole_number(minimum, maximum=None):
    """Return a parser of whole numbers from `minimum` to `maximum`."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'{text!r} is not a whole number') from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f'{value} is less than {minimum}')
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(
                f'{value} is more than {maximum}')
        return value

    return parse


def positive_number(text):
    """Parse a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a number') from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f'{text} is not a positive finite number')
    return value


def nonempty_path(text):
    """Parse a path; an empty one, which would mean '.', is refused."""
    if not text:
        raise argparse.ArgumentTypeError('an empty path; give a file or '
                                         'folder')
    return Path(text)
