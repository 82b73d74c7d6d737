"""What a chapter needs to run both in the book's build and in any Jupyter kernel: :func:`glue`.

Every number and verdict word in a chapter's prose is computed on the page and
*glued* into the text: the code cell calls ``glue("key", value)`` and the
prose says ``{glue:text}`key```. That is myst-nb's mechanism, and myst-nb is
part of the book's environment (``requirements.txt``) but not of the
library's: a reader who installs only ``recsys_lite`` into a stock Jupyter or
Colab kernel has no ``myst_nb``. :func:`glue` works in both worlds.

The book has two editions, English and Chinese, built from the same code
cells. A number reads the same in both, but a glued *word* ("beats", "within
noise of") must be in the page's language: the code glues a :func:`phrase`,
which carries both, and each edition's build shows its own (book/_ext).
"""

from __future__ import annotations

import numbers
from typing import Any

from . import config

__all__ = ["glue", "phrase", "verdict_word", "Phrase", "CHINESE_MIME"]

# The display-bundle key under which a glued Phrase carries its Chinese text (beside "text/plain", the English).
CHINESE_MIME = "text/x.recsys-lite.zh"


class Phrase(str):
    """Words the prose glues, in both editions' languages: the string itself is the English, ``.zh`` the Chinese.

    A ``Phrase`` is a ``str`` (its English), so code that compares, formats or prints it behaves as before; a
    new string built from it (``phrase + "s"``, an f-string) is plain English again. Made by :func:`phrase`.
    """

    zh: str

    def __new__(cls, en: str, zh: str) -> Phrase:
        made = super().__new__(cls, en)
        made.zh = zh
        return made

    def __repr__(self) -> str:
        return str.__repr__(self)

    def __reduce__(self):
        return Phrase, (str(self), self.zh)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        """What IPython shows and myst-nb's glue stores: the English as plain text, the Chinese beside it."""
        return {"text/plain": repr(str(self)), CHINESE_MIME: repr(self.zh)}


LANGUAGE = "RECSYS_LITE_LANGUAGE"


def reader_language() -> str:
    """The language a chapter run in Jupyter prints its glued phrases in: "zh" or "en".

    ``$RECSYS_LITE_LANGUAGE`` when it is set; otherwise "zh" when the notebook being run is the Chinese
    edition's (Jupyter tells its kernel the notebook's path in ``$JPY_SESSION_NAME``; the Chinese notebooks
    live under ``zh/``), else "en"."""
    import os
    from pathlib import PurePath

    chosen = os.environ.get(LANGUAGE, "").strip().lower()
    if chosen:
        if chosen not in ("en", "zh"):
            raise ValueError(f"${LANGUAGE} must be 'en' or 'zh'; got {chosen!r}")
        return chosen
    return "zh" if "zh" in PurePath(os.environ.get("JPY_SESSION_NAME", "")).parts else "en"


def phrase(en: str, zh: str) -> Phrase:
    """Words for the prose in English and Chinese: ``glue("verdict", phrase("beats", "优于"))``.

    Each edition's page shows its own language through the same glue key; a
    plain Jupyter kernel prints the reader's (``verdict = beats``, or
    ``verdict = 优于`` when running the Chinese notebook: :func:`reader_language`). Glue a name
    that both editions write alike (a film's title) as ``phrase(title, title)``:
    the Chinese build rejects a glued string with Latin words and no Chinese,
    so nothing English slips into a Chinese sentence unnoticed.

    Args:
        en: the English words, as the English prose reads them in place.
        zh: the Chinese words, as the Chinese prose reads them in place.

    Raises:
        TypeError: ``en`` or ``zh`` not a string.
    """
    from ._checks import check_str

    check_str("en", en)
    check_str("zh", zh)
    return Phrase(en, zh)


def verdict_word(direction) -> Phrase:
    """Where one value stands against another, in both languages: +1 "above" (高于), 0 "within noise of"
    (在噪声范围内持平于), −1 "below" (低于).

    ``direction`` is a paired comparison's verdict: :meth:`recsys_lite.metrics.Difference.direction`, or the
    ``verdict`` column of :func:`recsys_lite.metrics.compare`. The words read in place of a comparative in
    the prose ("the hybrid is {glue:text}`hyb_vs_bar` EASE"), so every chapter says it the same way;
    ``verdict_word(d).zh`` is the Chinese alone, for a sentence built in each language.

    Raises:
        TypeError: ``direction`` not a number.
        ValueError: a number other than −1, 0 or +1.
    """
    if isinstance(direction, bool) or not isinstance(direction, numbers.Real):
        raise TypeError(f"`direction` must be the number -1, 0 or +1 (a comparison's verdict); got {direction!r}.")
    if direction not in (-1, 0, 1):
        raise ValueError(f"`direction` must be -1, 0 or +1 (a comparison's verdict); got {direction!r}.")
    return _VERDICT_WORDS[int(direction)]


_VERDICT_WORDS = {1: Phrase("above", "高于"), 0: Phrase("within noise of", "在噪声范围内持平于"),
                  -1: Phrase("below", "低于")}


def glue(name: str, value: Any, display: bool = True) -> None:
    """Glue ``value`` into the page's prose under ``name``, and show it where a reader can see it.

    The chapters call this instead of ``myst_nb.glue``, with the same
    arguments, so that they also run where myst-nb is not installed.

    - **myst-nb importable** (the book's build, ``make lab``): the call is
      ``myst_nb.glue(name, value, display)``, unchanged, so the build stores
      the same glued output (a display bundle whose metadata names the key)
      and the prose's ``{glue:text}`` / ``{glue:}`` references, on this page
      and across pages, resolve as before.
    - **myst-nb not installed** (a plain Jupyter or Colab kernel): there is
      nothing to glue into, so the value is only shown: with
      ``display=True`` as ``IPython.display.display(value)`` shows it, which
      is what myst-nb's own call shows.
    - **Outside the book's build, ``display=False``**, with or without
      myst-nb: one line ``name = value`` is printed. In Jupyter the prose's
      roles stay raw text, ``{glue:text}`name```, so a value that is glued
      but not displayed would be nowhere to be read; printed under the cell
      that computes it, next to the key the prose names, it is. A string is
      printed as the prose would show it (without quotes); another value by
      its plain-text form, or, when it has a richer one (a figure, a table),
      shown below a ``name =`` line. In the build
      (:func:`recsys_lite.config.book_build`) nothing is printed, so the
      pages are exactly what myst-nb makes of them.

    Printing was chosen over collecting the values into a table at the end of
    the page because the reader meets each value where it is computed, the
    kernel keeps no state between calls, and a page that stops half-way still
    shows what it computed.

    Args:
        name: the key the prose refers to, a non-empty string.
        value: any object IPython can display (a string, a number, a
            DataFrame, a matplotlib figure).
        display: show the value in the cell's output as well (myst-nb's
            meaning); the chapters glue with ``display=False``.

    Raises:
        TypeError: ``name`` not a string; ``display`` not True or False.
        ValueError: ``name`` empty or only spaces.
    """
    from ._checks import check_flag, check_str, describe

    check_str("name", name)
    if not name.strip():
        raise ValueError(f"`name` must be a non-empty key for the prose to refer to; got {describe(name)}.")
    check_flag("display", display)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        myst_glue = None

    from IPython.display import display as show

    if myst_glue is not None:
        myst_glue(name, value, display=bool(display))
    elif display:
        show(value)
    if display or config.book_build():
        return
    if isinstance(value, Phrase) and reader_language() == "zh":
        print(f"{name} = {value.zh}")
        return
    if isinstance(value, str):
        print(f"{name} = {value}")
        return
    from IPython.core.formatters import format_display_data

    bundle, _ = format_display_data(value)
    if set(bundle) <= {"text/plain"}:
        print(f"{name} = {bundle.get('text/plain', repr(value))}")
    else:
        print(f"{name} =")
        show(value)
