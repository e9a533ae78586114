"""Errors a user can act on, and the one way commands report them."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


class RnnlabError(ValueError):
    """An error in the user's input: its message names what is wrong and where."""


class ConfigError(RnnlabError):
    """params.yaml is malformed or names something that does not exist."""


class DataError(RnnlabError):
    """A dataset or sequence table is unusable."""


def exit_on_user_error(main: F) -> F:
    """Print a user error as one line on stderr and exit 2, instead of a traceback."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except RnnlabError as err:
            print(f"rnnlab: error: {err}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper  # type: ignore[return-value]
