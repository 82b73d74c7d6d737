"""recsys_lite.glue: myst-nb's glue where myst-nb is installed, a visible value where it is not.

The reference is myst-nb's own ``glue``: with myst-nb importable, ours must
publish the very display bundle (data and metadata) that myst-nb's publishes,
and the bundle must be one myst-nb's build reads back as glued data. Without
myst-nb (``sys.modules["myst_nb"] = None`` makes its import fail, as in a
plain kernel), the value must be shown as IPython shows it, or printed as
``name = value`` when it is glued without display.
"""

from __future__ import annotations

import sys

import matplotlib
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

import recsys_lite
from recsys_lite import config, plots


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A real IPython shell (what a kernel runs), so that display() publishes bundles we can capture."""
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    cfg = Config()
    cfg.HistoryManager.enabled = False
    instance = InteractiveShell.instance(config=cfg)
    yield instance
    InteractiveShell.clear_instance()


@pytest.fixture
def outside_build(monkeypatch):
    monkeypatch.setenv(config.STATIC_WIDGETS, "0")


@pytest.fixture
def in_build(monkeypatch):
    monkeypatch.setenv(config.STATIC_WIDGETS, "1")


@pytest.fixture
def no_myst_nb(monkeypatch):
    """As in a kernel where only recsys_lite is installed: `import myst_nb` raises ImportError."""
    monkeypatch.setitem(sys.modules, "myst_nb", None)
    with pytest.raises(ImportError):
        import myst_nb  # noqa: F401


def published(glue, *args, **kwargs):
    """The rich outputs ((data, metadata) pairs) and the printed text of one glue call."""
    with capture_output() as captured:
        glue(*args, **kwargs)
    return [(out.data, out.metadata) for out in captured.outputs], captured.stdout


VALUES = ["cuts the RMSE by 3%", 0.125, 7, pd.DataFrame({"model": ["MF", "EASE"], "NDCG@10": [0.1, 0.2]})]


@pytest.mark.parametrize("value", VALUES, ids=["str", "float", "int", "frame"])
@pytest.mark.parametrize("display", [True, False])
def test_in_the_build_it_is_myst_nbs_glue_exactly(shell, in_build, value, display):
    from myst_nb import glue as myst_glue

    ours, ours_printed = published(recsys_lite.glue, "key", value, display=display)
    theirs, theirs_printed = published(myst_glue, "key", value, display=display)
    assert ours == theirs
    assert ours_printed == theirs_printed == ""


@pytest.mark.parametrize("display", [True, False])
def test_the_build_reads_the_bundle_back_as_glued_data(shell, in_build, display):
    """myst-nb's own reader (what `{glue:text}` resolves through) finds the key and the value."""
    from myst_nb.ext.glue import extract_glue_data_cell

    outputs, _ = published(recsys_lite.glue, "rmse_cut", "cuts the RMSE by 3%", display=display)
    cell = nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("display_data", data=data, metadata=meta)
                                              for data, meta in outputs])
    glued = dict(extract_glue_data_cell(cell))
    assert list(glued) == ["rmse_cut"]
    assert glued["rmse_cut"]["data"]["text/plain"] == repr("cuts the RMSE by 3%")


def test_outside_the_build_a_hidden_value_is_also_printed(shell, outside_build):
    """`make lab`: myst-nb is there but the prose's roles are raw text, so the reader needs the value printed."""
    from myst_nb import glue as myst_glue

    ours, printed = published(recsys_lite.glue, "verdict", "within noise", display=False)
    theirs, _ = published(myst_glue, "verdict", "within noise", display=False)
    assert ours == theirs
    assert printed == "verdict = within noise\n"


@pytest.mark.parametrize("value", VALUES, ids=["str", "float", "int", "frame"])
def test_without_myst_nb_a_displayed_value_is_shown_as_myst_nb_shows_it(shell, outside_build, value):
    from myst_nb import glue as myst_glue

    theirs, _ = published(myst_glue, "key", value, display=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "myst_nb", None)
        ours, printed = published(recsys_lite.glue, "key", value, display=True)
    assert [data for data, _ in ours] == [data for data, _ in theirs]   # what the reader sees
    assert all("scrapbook" not in meta for _, meta in ours)               # nothing pretends to be glued
    assert printed == ""


@pytest.mark.parametrize("value, line", [("beats popularity", "share = beats popularity"), (0.125, "share = 0.125"),
                                         (7, "share = 7"), (None, "share = None")])
def test_without_myst_nb_a_hidden_value_is_printed_as_name_equals_value(shell, outside_build, no_myst_nb,
                                                                        value, line):
    outputs, printed = published(recsys_lite.glue, "share", value, display=False)
    assert outputs == []
    assert printed == line + "\n"


def test_without_myst_nb_a_hidden_rich_value_is_shown_below_its_name(shell, outside_build, no_myst_nb):
    frame = VALUES[-1]
    outputs, printed = published(recsys_lite.glue, "table", frame, display=False)
    assert printed == "table =\n"
    assert len(outputs) == 1 and outputs[0][0]["text/html"] == frame._repr_html_()
    with matplotlib.rc_context():   # the book's style stays inside this test
        plots.use_book_style()      # as every chapter does: figures display as SVG in this shell
        fig, ax = plt.subplots(figsize=(1, 1))
        outputs, printed = published(recsys_lite.glue, "figure", fig, display=False)
        plt.close(fig)
    assert printed == "figure =\n"
    assert len(outputs) == 1 and "image/svg+xml" in outputs[0][0]


def test_without_myst_nb_the_build_prints_nothing(shell, in_build, no_myst_nb):
    """A build never runs without myst-nb, but if it did no page would gain a stray line."""
    assert published(recsys_lite.glue, "key", "value", display=False) == ([], "")


@pytest.mark.parametrize("name, display, error, match", [
    (3, False, TypeError, r"`name` must be a string; got int 3"),
    ("  ", False, ValueError, r"`name` must be a non-empty key .*got str '  '"),
    ("key", "no", TypeError, r"`display` must be True or False; got str 'no'"),
])
def test_bad_input_names_the_argument(shell, name, display, error, match):
    with pytest.raises(error, match=match):
        recsys_lite.glue(name, "value", display=display)


def test_a_phrase_is_its_english_and_carries_its_chinese():
    said = recsys_lite.phrase("beats", "优于")
    assert said == "beats" and isinstance(said, str) and said.zh == "优于"
    assert repr(said) == repr("beats") and f"{said} popularity" == "beats popularity"
    import pickle

    assert pickle.loads(pickle.dumps(said)).zh == "优于"   # survives a trip to another process


@pytest.mark.parametrize("display", [True, False])
def test_a_glued_phrase_stores_the_english_as_text_and_the_chinese_beside_it(shell, in_build, display):
    """The English build reads "text/plain" as for any string; the Chinese one finds its words under CHINESE_MIME."""
    from myst_nb import glue as myst_glue
    from myst_nb.ext.glue import extract_glue_data_cell

    from recsys_lite.book import CHINESE_MIME

    said = recsys_lite.phrase("within noise of", "与…相差在噪声之内")
    ours, _ = published(recsys_lite.glue, "verdict", said, display=display)
    assert ours == published(myst_glue, "verdict", said, display=display)[0]
    cell = nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("display_data", data=data, metadata=meta)
                                              for data, meta in ours])
    data = dict(extract_glue_data_cell(cell))["verdict"]["data"]
    assert data["text/plain"] == repr("within noise of")
    assert data[CHINESE_MIME] == repr("与…相差在噪声之内")


def test_without_myst_nb_a_hidden_phrase_prints_its_english(shell, outside_build, no_myst_nb):
    assert published(recsys_lite.glue, "verdict", recsys_lite.phrase("beats", "优于"), display=False) == (
        [], "verdict = beats\n")


@pytest.mark.parametrize("en, zh, match", [(3, "三", r"`en` must be a string; got int 3"),
                                           ("three", None, r"`zh` must be a string; got NoneType None")])
def test_a_phrase_names_the_argument_that_is_not_a_string(en, zh, match):
    with pytest.raises(TypeError, match=match):
        recsys_lite.phrase(en, zh)


@pytest.mark.parametrize("session, chosen, printed", [
    ("recsys-lite/chapters/05_collaborative_filtering.ipynb", None, "verdict = beats\n"),
    ("recsys-lite/zh/chapters/05_collaborative_filtering.ipynb", None, "verdict = 优于\n"),
    ("", None, "verdict = beats\n"),
    ("recsys-lite/chapters/05_collaborative_filtering.ipynb", "zh", "verdict = 优于\n"),
    ("recsys-lite/zh/chapters/05_collaborative_filtering.ipynb", "en", "verdict = beats\n"),
])
def test_in_jupyter_a_phrase_prints_in_the_language_of_the_notebook_being_run(shell, outside_build, no_myst_nb,
                                                                             monkeypatch, session, chosen, printed):
    """Jupyter tells the kernel which notebook it runs ($JPY_SESSION_NAME): the Chinese edition's lives in zh/."""
    monkeypatch.setenv("JPY_SESSION_NAME", session)
    if chosen is None:
        monkeypatch.delenv("RECSYS_LITE_LANGUAGE", raising=False)
    else:
        monkeypatch.setenv("RECSYS_LITE_LANGUAGE", chosen)
    assert published(recsys_lite.glue, "verdict", recsys_lite.phrase("beats", "优于"), display=False) == ([], printed)


def test_a_language_that_is_neither_is_refused(monkeypatch):
    from recsys_lite.book import reader_language

    monkeypatch.setenv("RECSYS_LITE_LANGUAGE", "fr")
    with pytest.raises(ValueError, match=r"RECSYS_LITE_LANGUAGE must be 'en' or 'zh'; got 'fr'"):
        reader_language()


def test_verdict_words_say_where_a_value_stands_in_both_languages():
    from recsys_lite import metrics

    said = {d: recsys_lite.verdict_word(d) for d in (1, 0, -1)}
    assert [(str(w), w.zh) for w in said.values()] == [("above", "高于"), ("within noise of", "在噪声范围内持平于"),
                                                       ("below", "低于")]
    assert recsys_lite.verdict_word(np.int64(-1)) is said[-1] and recsys_lite.verdict_word(1.0) is said[1]
    for estimate, direction in ((1.0, 1), (0.1, 0), (-1.0, -1)):  # s.e. 0.1: beyond 2 s.e. or not
        assert metrics.Difference(estimate, 0.1).verdict() == said[direction]  # the same words, English only
    with pytest.raises(ValueError, match=r"`direction` must be -1, 0 or \+1.*got 2"):
        recsys_lite.verdict_word(2)
    for bad in ("above", None, True):
        with pytest.raises(TypeError, match="`direction` must be the number"):
            recsys_lite.verdict_word(bad)
