"""The book's two editions, English (the repository's root) and Chinese (``zh/``), built into one site.

Loaded by ``recsys_lite_book`` in both builds. The Chinese edition is a Jupyter Book project of its own
that mirrors the English one file for file, with the same code cells (tests/test_editions.py):

1. **One command builds both** (once every page is translated: until then the English build says how many
   are, and builds the English edition alone). When the English build has finished, it builds ``zh/`` with the same
   builder (the website, or the single page ``make pdf`` prints) and the same warnings-as-errors, and
   copies the result into its own output as ``zh/``: ``_build/html/zh/``. The Chinese build uses the
   English build's execution cache (``EDITION_OF``), so a Chinese notebook, whose code cells are the
   English ones, is read back from it instead of being executed again: the second edition costs reading
   and rendering time, not execution time. It re-reads every page (``--all``) whenever the English build
   read any page again: its own saved environment cannot know that the English outputs it shows have changed.
2. **The cache ignores what only the page shows.** jupyter-cache keys a notebook by its code cells,
   metadata included, and merges the cached cells back whole. A figure cell's caption and alt text
   (``metadata.mystnb``) are translated, so they are left out of the key, and the page keeps its own
   cells' metadata when the outputs are merged in.
3. **Glued words in the page's language.** A glued :func:`recsys_lite.phrase` carries its Chinese
   beside the English (``recsys_lite.book.CHINESE_MIME``); the Chinese build shows that. A glued string
   with Latin words and no Chinese is a warning there (an error with ``-W``), so no English verdict
   lands in a Chinese sentence unnoticed.
4. **Search in Chinese.** Sphinx splits Chinese text into words with jieba; the glossary's Chinese terms are
   given to it as its dictionary, so "协同过滤" or "推荐系统" is found as one word, not only as its halves.
   Its Chinese indexer is made linear in the book's length (it was quadratic: most of the Chinese build's time).
5. **Each page links to its counterpart** in the other edition (a link at the top of the page, and a
   ``<link rel="alternate" hreflang>`` in its head), where the counterpart exists.
"""

from __future__ import annotations

import ast
import copy
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ZH = ROOT / "zh"
# Set in the Chinese build's environment by the English build: the English build's execution cache.
EDITION_OF = "RECSYS_LITE_EDITION_OF"
# The builders whose output has a Chinese counterpart: the website and the single page make pdf prints.
BUILDERS = ("html", "singlehtml")
# Glued strings that need no Chinese although they hold Latin letters: number words Python prints.
NUMBER_WORDS = {"inf", "-inf", "nan"}


def is_chinese(config) -> bool:
    return str(getattr(config, "language", "") or "").startswith("zh")


# --- 1. one command builds both --------------------------------------------------------------------------

def _use_the_english_cache(app, config) -> None:
    """In the Chinese build, read and write the English build's execution cache (and, through it, its JAX
    cache and saved models: book/_ext/recsys_lite_book.py places those beside it)."""
    english_cache = os.environ.get(EDITION_OF)
    if is_chinese(config) and english_cache:
        config.nb_execution_cache_path = english_cache


def _jupyter_book() -> list[str]:
    beside = Path(sys.executable).parent / "jupyter-book"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("jupyter-book")
    if found is None:
        raise RuntimeError("recsys_lite_editions: cannot find the jupyter-book command to build the Chinese edition")
    return [found]


def _note_the_pages_read(app, env, docnames) -> None:
    """Whether this English build read any page again: if it read none, no output the Chinese pages show has changed
    since the Chinese edition was last built, and that build's saved environment can be used as it is."""
    app.recsys_lite_pages_read = bool(docnames)


def build_the_chinese_edition(app, exception) -> None:
    """After a successful English build, build ``zh/`` with the same builder into ``<outdir>/zh``."""
    if exception is not None or is_chinese(app.config) or app.builder.name not in BUILDERS:
        return
    if not (ZH / "_config.yml").is_file():
        return
    translated, english = toc_pages(ZH / "_toc.yml"), toc_pages(ROOT / "_toc.yml")
    if not english <= translated:
        print(f"recsys_lite_editions: the Chinese edition has {len(english & translated)} of the {len(english)} pages "
              "translated; it is built once it has them all", flush=True)
        return
    from recsys_lite_book import _stamp_path

    outdir = Path(app.outdir)
    project_output = outdir.parent / "zh"          # <build>/zh/_build/<builder> holds the Chinese build
    command = _jupyter_book() + ["build", str(ZH), "--builder", app.builder.name, "--path-output", str(project_output)]
    if getattr(app, "recsys_lite_pages_read", True):
        command.append("--all")
    if app.warningiserror or app.keep_going:
        command.append("-W")
    if app.keep_going:
        command.append("--keep-going")
    env = dict(os.environ, **{EDITION_OF: str(_stamp_path(app, app.config)[0])})
    print(f"recsys_lite_editions: building the Chinese edition into {outdir / 'zh'}", flush=True)
    done = subprocess.run(command, env=env, cwd=ZH)
    if done.returncode != 0:
        from sphinx.errors import ExtensionError

        raise ExtensionError(f"the Chinese edition (zh/) failed to build (exit status {done.returncode}); "
                             "its log is above")
    built = project_output / "_build" / app.builder.name
    target = outdir / "zh"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(built, target)


# --- 2. the execution cache ignores display-only metadata -------------------------------------------------

DISPLAY_ONLY = ("mystnb",)


def _cache_ignores_display_metadata() -> None:
    from jupyter_cache.cache.main import JupyterCacheBase

    if getattr(JupyterCacheBase.create_hashed_notebook, "recsys_lite", False):
        return
    create_hashed = JupyterCacheBase.create_hashed_notebook
    merge_match = JupyterCacheBase.merge_match_into_notebook

    def create_hashed_notebook(self, nb, nb_metadata=("kernelspec",), cell_metadata=None):
        """The notebook as jupyter-cache stores it, keyed without the cells' display-only metadata."""
        keyed = copy.deepcopy(nb)
        for cell in keyed.cells:
            for key in DISPLAY_ONLY:
                cell.metadata.pop(key, None)
        _, hashkey = create_hashed(self, keyed, nb_metadata, cell_metadata)
        stored, _ = create_hashed(self, nb, nb_metadata, cell_metadata)
        return stored, hashkey

    def merge_match_into_notebook(self, nb, nb_meta=("kernelspec", "language_info", "widgets"), cell_meta=None):
        """The cached outputs merged into ``nb``, every cell keeping ``nb``'s own metadata."""
        return merge_match(self, nb, nb_meta, () if cell_meta is None else cell_meta)

    create_hashed_notebook.recsys_lite = True
    JupyterCacheBase.create_hashed_notebook = create_hashed_notebook
    JupyterCacheBase.merge_match_into_notebook = merge_match_into_notebook


# --- 3. glued words in the page's language ----------------------------------------------------------------

def english_only(plain: str) -> str | None:
    """The glued string in ``plain`` (a text/plain repr) when it holds Latin words, else None."""
    try:
        value = ast.literal_eval(plain)
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, str) and value.strip() not in NUMBER_WORDS and re.search(r"[A-Za-z]{2,}", value):
        return value
    return None


def _glue_in_chinese(app, config) -> None:
    if not is_chinese(config):
        return
    from myst_nb.ext import glue as myst_glue
    from sphinx.util import logging

    from recsys_lite.book import CHINESE_MIME

    extract = myst_glue.extract_glue_data_cell
    if getattr(extract, "recsys_lite", False):
        return
    logger = logging.getLogger(__name__)

    def extract_in_chinese(cell):
        pairs = extract(cell)
        for key, output in pairs:
            data = output.get("data", {})
            if CHINESE_MIME in data:
                data["text/plain"] = data[CHINESE_MIME]
            elif (text := english_only(data.get("text/plain", ""))) is not None:
                logger.warning(f"glued text {key!r} is English only ({text!r}) on a Chinese page: glue it as "
                               "recsys_lite.phrase(english, chinese) in the code cell, in both editions",
                               type="recsys_lite", subtype="glue")
        return pairs

    extract_in_chinese.recsys_lite = True
    myst_glue.extract_glue_data_cell = extract_in_chinese


# The execution statistics table (myst-nb's ``{nb-exec-table}``) writes its column headings in English.
EXECUTION_TABLE_HEADINGS = {"Document": "页面", "Modified": "执行时间", "Method": "方式",
                            "Run Time (s)": "运行时间（秒）", "Status": "状态"}


def _execution_table_in_chinese(app, config) -> None:
    if not is_chinese(config):
        return
    from docutils import nodes
    from myst_nb.ext import execution_tables

    make = execution_tables.make_stat_table
    if getattr(make, "recsys_lite", False):
        return

    def make_in_chinese(parent_docname, metadata):
        table = make(parent_docname, metadata)
        for heading in table.findall(nodes.thead):
            for text in list(heading.findall(nodes.Text)):
                if str(text) in EXECUTION_TABLE_HEADINGS:
                    text.parent.replace(text, nodes.Text(EXECUTION_TABLE_HEADINGS[str(text)]))
        return table

    make_in_chinese.recsys_lite = True
    execution_tables.make_stat_table = make_in_chinese


# --- 4. search in Chinese --------------------------------------------------------------------------------

def glossary_terms(glossary: Path) -> list[str]:
    """The Chinese terms the Chinese glossary defines ("协同过滤 (Collaborative filtering)" -> "协同过滤"); a name that
    mixes in Latin words ("Top-N 推荐") is left to jieba's own dictionary."""
    text = glossary.read_text(encoding="utf-8")
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S)
    terms: list[str] = []
    for line in (block.group(1).splitlines() if block else []):
        if not line.strip() or line.startswith((" ", "\t")):
            continue
        name = re.sub(r"\s*\([^()]*\)\s*$", "", line.strip())
        if re.fullmatch(r"[\u4e00-\u9fff]{2,}", name) and name not in terms:
            terms.append(name)
    return terms


def _chinese_search_in_linear_time():
    """Sphinx's Chinese search language, with the Latin words it has seen kept in a set.

    ``sphinx.search.zh.SearchChinese`` (Sphinx 7.4) appends every Latin word of every page to a *list*, a class
    attribute, and :meth:`stem` asks ``word in`` that list for each word it indexes: the time grows with the square
    of the book's length (about two minutes of the Chinese build, most of it). A set answers the same question
    in constant time; which words are stemmed, and so the index, is unchanged (tests/test_editions.py compares the two).
    """
    from sphinx.search.zh import JIEBA, SearchChinese

    if JIEBA:
        import jieba

    class SearchChineseInLinearTime(SearchChinese):
        def init(self, options: dict[str, str]) -> None:
            super().init(options)
            self.latin_terms = set()

        def split(self, input: str) -> list[str]:
            chinese = list(jieba.cut_for_search(input)) if JIEBA else []
            latin = [term.strip() for term in self.latin1_letters.findall(input)]
            self.latin_terms.update(latin)
            return chinese + latin

    return SearchChineseInLinearTime


def _search_with_the_glossary_terms(app, config) -> None:
    if not is_chinese(config):
        return
    from sphinx import search

    search.languages["zh"] = _chinese_search_in_linear_time()
    terms = glossary_terms(ZH / "book" / "glossary.md")
    dictionary = Path(app.outdir).parent / "search-terms.txt"
    dictionary.parent.mkdir(parents=True, exist_ok=True)
    dictionary.write_text("".join(f"{term} 100000\n" for term in terms), encoding="utf-8")
    config.html_search_options = {**(config.html_search_options or {}), "dict": str(dictionary)}


# --- 5. each page links to its counterpart ----------------------------------------------------------------

def toc_pages(toc_file: Path) -> set[str]:
    """The docnames a table of contents lists (its root and every file)."""
    import yaml

    if not toc_file.is_file():
        return set()
    pages: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    pages.add(str(Path(node[key]).with_suffix("")) if Path(node[key]).suffix else node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(toc_file.read_text(encoding="utf-8")))
    return pages


def chinese_pages() -> set[str]:
    """The pages with a Chinese counterpart on the site: all of them once the edition is complete, else none."""
    translated, english = toc_pages(ZH / "_toc.yml"), toc_pages(ROOT / "_toc.yml")
    return translated if english <= translated else set()


def counterpart(pagename: str, chinese: bool, translated: set[str]) -> tuple[str, str, str, str] | None:
    """(relative URL, hreflang, the link's words, their language) of ``pagename``'s page in the other edition."""
    up = "../" * pagename.count("/")
    if chinese:
        return f"../{up}{pagename}.html", "en", "English", "en"
    if pagename not in translated:
        return None
    return f"{up}zh/{pagename}.html", "zh-Hans", "中文", "zh-Hans"


def _link_the_other_edition(app, pagename, templatename, context, doctree) -> None:
    if app.builder.name != "html" or doctree is None or "body" not in context:
        return
    chinese = is_chinese(app.config)
    if not chinese and not hasattr(app, "recsys_lite_chinese_pages"):
        app.recsys_lite_chinese_pages = chinese_pages()
    other = counterpart(pagename, chinese, getattr(app, "recsys_lite_chinese_pages", set()))
    if other is None:
        return
    url, hreflang, words, lang = (html.escape(part) for part in other)
    context["body"] = (f'<p class="rl-other-edition" style="float: right; margin: 0 0 0.5em 1em;">'
                       f'<a href="{url}" hreflang="{hreflang}" lang="{lang}">{words}</a></p>\n' + context["body"])
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{hreflang}" href="{url}" />')


def setup(app):
    _cache_ignores_display_metadata()
    app.connect("config-inited", _use_the_english_cache, priority=100)  # before the cache is located
    app.connect("config-inited", _glue_in_chinese)
    app.connect("config-inited", _search_with_the_glossary_terms)
    app.connect("config-inited", _execution_table_in_chinese)
    app.connect("html-page-context", _link_the_other_edition)
    app.connect("env-before-read-docs", _note_the_pages_read)
    app.connect("build-finished", build_the_chinese_edition, priority=900)  # after the fingerprint is saved
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
