"""The library's switches: every environment variable it reads, read here and nowhere else.

=============================  ===================================================
``RECSYS_LITE_DATA``           a folder holding ``ml-100k/`` or ``ml-100k.zip``
``RECSYS_LITE_CACHE``          the download cache (default: the OS cache folder)
``RECSYS_LITE_OFFLINE``        on: never download; fall back to the synthetic stand-in
``RECSYS_LITE_STATIC_WIDGETS`` on: the book is being built, so explorers render
                               static frames and ``train.fit`` prints one summary
                               line instead of a progress bar
=============================  ===================================================

An on/off variable is on for 1/true/yes/on and off for 0/false/no/off or
empty (any case); anything else raises ``ValueError`` naming the variable,
so that a typo never silently means "off".

The book build calls :func:`set_book_build` before any kernel starts; the
kernels inherit the environment.
"""

from __future__ import annotations

import os

__all__ = ["DATA", "CACHE", "OFFLINE", "STATIC_WIDGETS", "book_build", "offline", "folder", "set_book_build"]

DATA = "RECSYS_LITE_DATA"
CACHE = "RECSYS_LITE_CACHE"
OFFLINE = "RECSYS_LITE_OFFLINE"
STATIC_WIDGETS = "RECSYS_LITE_STATIC_WIDGETS"

_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off", "")


def _flag(variable: str) -> bool:
    raw = os.environ.get(variable)
    if raw is None:
        return False
    word = raw.strip().lower()
    if word in _ON:
        return True
    if word in _OFF:
        return False
    raise ValueError(f"The environment variable {variable} must be one of {'/'.join(_ON)} (on) or "
                     f"{'/'.join(w for w in _OFF if w)}/empty (off), in any case; got {raw!r}.")


def book_build() -> bool:
    """True while the book is being built (``RECSYS_LITE_STATIC_WIDGETS`` on)."""
    return _flag(STATIC_WIDGETS)


def offline() -> bool:
    """True when downloads are forbidden (``RECSYS_LITE_OFFLINE`` on)."""
    return _flag(OFFLINE)


def folder(variable: str) -> str | None:
    """The folder named by ``variable`` (:data:`DATA` or :data:`CACHE`), or None when unset or empty."""
    if variable not in (DATA, CACHE):
        raise ValueError(f"`variable` must be {DATA} or {CACHE}; got {variable!r}.")
    return os.environ.get(variable) or None


def set_book_build(on: bool = True) -> None:
    """Switch book-build mode on (or off) for this process and the kernels it starts."""
    os.environ[STATIC_WIDGETS] = "1" if on else "0"
