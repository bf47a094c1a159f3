"""Types for numeric flags: a value out of range is refused while the arguments are parsed, naming the
flag, before any file is read or any worker starts.

Why every flag needs one: `float("nan")` and `float("inf")` parse, and a NaN threshold compares false
with everything, so `--min-cjk-ratio nan` silently turned a filter off; `--seed -1` parsed and crashed a
worker minutes later. So every float flag is finite and every number has a range.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def integer(minimum: int = 0, maximum: int | None = None) -> Callable[[str], int]:
    """An int in [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must lie in {_range(minimum, maximum, False)}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def number(minimum: float | None = None, maximum: float | None = None,
           above_minimum: bool = False) -> Callable[[str], float]:
    """A finite float in [minimum, maximum] (`above_minimum`: minimum itself excluded)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        too_low = minimum is not None and (value <= minimum if above_minimum else value < minimum)
        if too_low or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must lie in {_range(minimum, maximum, above_minimum)}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def _range(minimum: float | None, maximum: float | None, open_below: bool) -> str:
    low = "(-inf" if minimum is None else f"{'(' if open_below else '['}{minimum:g}"
    return f"{low}, {'inf)' if maximum is None else f'{maximum:g}]'}"


COUNT = integer(minimum=1)  # workers, rows, steps, sizes: zero of them means nothing
NON_NEGATIVE = integer(minimum=0)  # where 0 means "none" or "off", as each flag's help says
SEED = integer(minimum=0)  # numpy's SeedSequence takes non-negative integers only
SHARE = number(0.0, 1.0)  # a probability or a ratio
NON_NEGATIVE_NUMBER = number(0.0)  # a price, a decay, a duration
POSITIVE = number(0.0, above_minimum=True)
