"""The two editions stay one book: the Chinese edition (zh/) mirrors the English one, page for page and cell for cell.

What must be identical: the code cells (source and metadata, except a figure's caption and alt text, which are
prose), the cells' number, order, types and ids, and in the prose every label, directive, option, display
formula, inline formula and role target (glue keys, equations, citations, documents); cross-references keep their
targets; glossary links point to the same entries under their Chinese names. What must differ: the prose is
Chinese. The configuration and the table of contents agree but for what a language changes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ZH = ROOT / "zh"
CJK = re.compile(r"[\u4e00-\u9fff]")


def chinese_files() -> list[Path]:
    """The Chinese edition's pages (relative paths, the same as their English counterparts')."""
    return sorted(p.relative_to(ZH) for p in [*ZH.glob("book/*.md"), *ZH.glob("chapters/*.ipynb")])


PAGES = chinese_files()


def swap_term(entry: str) -> str:
    """A glossary entry's Chinese name: "Recommender system (推荐系统)" -> "推荐系统 (Recommender system)"."""
    found = re.fullmatch(r"(.+?) \((.+)\)", entry.strip())
    return f"{found.group(2)} ({found.group(1)})" if found else entry.strip()


# --- the prose's skeleton ---------------------------------------------------------------------------------

ROLE = re.compile(r"(?<!`)\{([a-z:-]+)\}`([^`]*)`")  # not a role quoted as inline code: `{glue:text}`
FENCE = re.compile(r"^[ \t]*(:{3,}|`{3,})\{([\w:-]+)\}[ \t]*(.*)$", re.M)
OPTION = re.compile(r"^\s*:(?:label|class|name|nonumber|enumerated|hidden|number):.*$", re.M)
# A directive with options but no body (```{solution-end}```): set aside first, or its closing fence would open a
# "code block" running to the next one.
EMPTY_DIRECTIVE = re.compile(r"^[ \t]*```\{[^}]*\}[^\n]*\n(?:[ \t]*:[^\n]*\n)*[ \t]*```[ \t]*$", re.M)
CODE_FENCE = re.compile(r"^\s*```(?!\{)[^\n]*\n.*?^\s*```\s*$", re.M | re.S)  # a code block, not a directive
TARGET = re.compile(r"^\s*\((\S+)\)=\s*$", re.M)
DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$(\s*\(\S+\))?", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)([^$\n]+?)(?<!\\)\$")
HEADING = re.compile(r"^(#{1,6})\s", re.M)
SUBSTITUTION = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# Directives whose argument is a key (a label), not a title to translate.
KEYED_DIRECTIVES = {"solution", "solution-start", "glossary", "bibliography", "tableofcontents", "nb-exec-table"}
SAME_ROLES = {"glue:text", "glue", "eq", "cite", "cite:p", "cite:t"}     # the whole role, as it is
LINK_ROLES = {"doc", "download", "numref", "ref"}                      # the target; the link's words are prose


def _target(content: str) -> str:
    inside = re.search(r"<([^<>]+)>\s*$", content)
    return (inside.group(1) if inside else content).strip()


def skeleton(text: str, chinese: bool) -> dict:
    """What translation must leave as it is, from one markdown cell or page."""
    code_free = CODE_FENCE.sub(" ", EMPTY_DIRECTIVE.sub(" ", text))
    without_display = DISPLAY_MATH.sub(" ", code_free)
    roles = ROLE.findall(text)
    fences = FENCE.findall(text)
    return {
        "labels": TARGET.findall(text),
        "directives": [(name, arg.strip() if name in KEYED_DIRECTIVES else "") for _, name, arg in fences],
        "options": [line.strip() for line in OPTION.findall(text)],
        "display math": [(body.strip(), (label or "").strip()) for body, label in DISPLAY_MATH.findall(text)],
        "inline math": sorted(m.strip() for m in INLINE_MATH.findall(ROLE.sub(" ", without_display))),
        "roles": sorted((kind, content) for kind, content in roles if kind in SAME_ROLES),
        "cross-references": sorted((kind, _target(content)) for kind, content in roles if kind in LINK_ROLES),
        "glossary links": sorted((_target(content) if chinese else swap_term(_target(content)))
                                 for kind, content in roles if kind == "term"),
        "headings": Counter(len(h) for h in HEADING.findall(code_free)),
        "code blocks": CODE_FENCE.findall(EMPTY_DIRECTIVE.sub(" ", text)),
        "substitutions": SUBSTITUTION.findall(text),
    }


def prose_words(text: str) -> int:
    """Latin words of running prose: outside math, roles, code and directive lines."""
    text = DISPLAY_MATH.sub(" ", CODE_FENCE.sub(" ", EMPTY_DIRECTIVE.sub(" ", text)))
    text = re.sub(r"`[^`]*`|\$[^$]*\$|^\s*:.*$|^\s*\(\S+\)=\s*$", " ", ROLE.sub(" ", text), flags=re.S | re.M)
    return len(re.findall(r"[A-Za-z]{3,}", text))


CJK_OR_FULL_WIDTH = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def broken_lines(text: str) -> list[str]:
    """Line breaks inside a paragraph between two Chinese characters (or full-width punctuation): a browser shows
    each as a stray space. A heading's or a directive's line ends its own block, so a break after it is not one."""
    lines = DISPLAY_MATH.sub(" ", CODE_FENCE.sub(" ", EMPTY_DIRECTIVE.sub(" ", text))).split("\n")
    def last(line):   # the last character the reader sees: emphasis marks are not shown
        return line.rstrip().rstrip("*_")[-1:]

    def first(line):
        return line.strip().lstrip("*_")[:1]

    return [f"{a[-12:]}⏎{b.strip()[:12]}" for a, b in zip(lines, lines[1:])
            if CJK_OR_FULL_WIDTH.match(last(a) or "a") and CJK_OR_FULL_WIDTH.match(first(b) or "a")
            and not a.lstrip().startswith(("#", ":::", "```", "|"))]


def assert_same_skeleton(english: str, chinese: str, where: str) -> None:
    ours, theirs = skeleton(english, chinese=False), skeleton(chinese, chinese=True)
    for part in ours:
        assert ours[part] == theirs[part], f"{where}: the {part} differ\nEnglish: {ours[part]}\nChinese: {theirs[part]}"
    if prose_words(english) >= 3:
        assert CJK.search(chinese), f"{where}: the prose is not translated (no Chinese characters)"
    assert not broken_lines(chinese), f"{where}: a line break between Chinese characters shows as a space: " \
        f"{broken_lines(chinese)[:3]}"


# --- the pages ---------------------------------------------------------------------------------------------

def test_the_chinese_edition_has_pages_and_each_has_an_english_counterpart():
    assert PAGES, "zh/ holds no translated page"
    for page in PAGES:
        assert (ROOT / page).is_file(), f"zh/{page} has no English counterpart {page}"


def _toc_pages(toc: dict) -> list[tuple[str | None, bool, str]]:
    """(part caption, numbered, file) for every page, in order; the root first."""
    pages = [(None, False, toc["root"])]
    for part in toc.get("parts", []):
        pages += [(part.get("caption"), bool(part.get("numbered")), ch["file"]) for ch in part.get("chapters", [])]
    return pages


def test_the_chinese_table_of_contents_is_the_english_one_restricted_to_translated_pages():
    english = _toc_pages(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    chinese = _toc_pages(yaml.safe_load((ZH / "_toc.yml").read_text()))
    translated = {str(p.with_suffix("")) for p in PAGES}
    assert [f for _, _, f in chinese] == [f for _, _, f in english if f in translated], \
        "zh/_toc.yml must list every translated page, in the English order"
    numbered = {f: n for _, n, f in english}
    assert all(numbered[f] == n for _, n, f in chinese), "a page is numbered in one edition only"
    english_part = {f: c for c, _, f in english}
    chinese_part = {f: c for c, _, f in chinese}
    pairs = {(english_part[f], chinese_part[f]) for f in chinese_part}
    assert len(pairs) == len({e for e, _ in pairs}) == len({c for _, c in pairs}), \
        f"the parts do not correspond one to one: {sorted(pairs, key=str)}"


# Keys a language changes, and how: (path in the YAML, rule).
def _relative(english, chinese):
    return chinese == (["../" + p for p in english] if isinstance(english, list) else "../" + english)


LANGUAGE_KEYS = {
    ("title",): lambda e, c: bool(CJK.search(c)),
    ("logo",): _relative,
    ("bibtex_bibfiles",): _relative,
    ("sphinx", "local_extensions", "recsys_lite_book"): _relative,
    ("sphinx", "config", "html_static_path"): _relative,
    ("sphinx", "config", "numfig_format"): lambda e, c: set(e) == set(c) and all(CJK.search(v) for v in c.values()),
    ("sphinx", "config", "language"): lambda e, c: e is None and c == "zh_CN",
    ("parse", "myst_substitutions", "run_elsewhere"): lambda e, c: assert_same_skeleton(e, c, "run_elsewhere") is None,
    ("parse", "myst_substitutions", "install_recsys_lite"): lambda e, c: bool(CJK.search(c)),
    ("html", "extra_footer"): lambda e, c: bool(CJK.search(c)) and "{version}" in c and "{date}" in c,
    ("exclude_patterns",): lambda e, c: c == [p for p in e if p != "zh"],
}


def _pop(tree: dict, path: tuple):
    *parents, last = path
    for key in parents:
        tree = tree.get(key, {})
    return tree.pop(last, None)


def test_the_two_configurations_differ_only_where_the_language_does():
    english = yaml.safe_load((ROOT / "_config.yml").read_text())
    chinese = yaml.safe_load((ZH / "_config.yml").read_text())
    for path, agrees in LANGUAGE_KEYS.items():
        e, c = _pop(english, path), _pop(chinese, path)
        assert c is not None and agrees(e, c), f"zh/_config.yml {'.'.join(path)} = {c!r} (English: {e!r})"
    assert english == chinese


def _notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


NOTEBOOKS = [p for p in PAGES if p.suffix == ".ipynb"]
MARKDOWN_PAGES = [p for p in PAGES if p.suffix == ".md"]


@pytest.mark.parametrize("page", NOTEBOOKS, ids=str)
def test_a_chinese_notebook_has_the_english_cells_and_code(page):
    english, chinese = _notebook(ROOT / page), _notebook(ZH / page)
    assert chinese["metadata"] == english["metadata"]
    assert [(c["cell_type"], c.get("id")) for c in chinese["cells"]] == \
        [(c["cell_type"], c.get("id")) for c in english["cells"]], f"{page}: the cells differ in number, type or id"
    for e, c in zip(english["cells"], chinese["cells"]):
        where = f"zh/{page} cell {e.get('id')}"
        if e["cell_type"] != "code":
            continue
        assert "".join(c["source"]) == "".join(e["source"]), f"{where}: the code differs from the English"
        e_meta, c_meta = json.loads(json.dumps(e["metadata"])), json.loads(json.dumps(c["metadata"]))
        for field in (("figure", "caption"), ("image", "alt")):
            e_text = e_meta.get("mystnb", {}).get(field[0], {}).pop(field[1], None)
            c_text = c_meta.get("mystnb", {}).get(field[0], {}).pop(field[1], None)
            assert (e_text is None) == (c_text is None), f"{where}: {'.'.join(field)} in one edition only"
            assert e_text is None or CJK.search(c_text), f"{where}: the figure's {field[1]} is not translated"
        assert c_meta == e_meta, f"{where}: the code cell's metadata differs beyond caption and alt text"


@pytest.mark.parametrize("page", NOTEBOOKS, ids=str)
def test_a_chinese_notebook_keeps_the_english_prose_skeleton(page):
    english, chinese = _notebook(ROOT / page), _notebook(ZH / page)
    for e, c in zip(english["cells"], chinese["cells"]):
        if e["cell_type"] == "markdown":
            assert_same_skeleton("".join(e["source"]), "".join(c["source"]), f"zh/{page} cell {e.get('id')}")


@pytest.mark.parametrize("page", MARKDOWN_PAGES, ids=str)
def test_a_chinese_page_keeps_the_english_prose_skeleton(page):
    assert_same_skeleton((ROOT / page).read_text(encoding="utf-8"), (ZH / page).read_text(encoding="utf-8"),
                         f"zh/{page}")


def stray_emphasis_marks(markdown: str) -> list[str]:
    """The text runs in which a ``*`` or ``**`` is left over after parsing: emphasis CommonMark could not match.

    Its flanking rules see a Chinese character as a letter, so ``是**{term}`…`**：`` (a letter, then the marks,
    then punctuation) opens nothing, and the reader sees the asterisks; a space or punctuation beside the marks
    makes them match (``是 **{term}`…`**：``)."""
    from markdown_it import MarkdownIt

    markdown = re.sub(r"\$\$.*?\$\$", "", markdown, flags=re.S)
    markdown = re.sub(r"\$[^$\n]+\$", "x", markdown)   # inline math may hold a *
    stray = []
    for block in MarkdownIt("commonmark").parse(markdown):
        for token in block.children or []:
            if token.type == "text" and re.search(r"\*\*|(?<![\w*\\])\*(?=\S)|(?<=\S)\*(?![\w*])", token.content):
                stray.append(token.content[:80])
    return stray


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_every_emphasis_in_both_editions_is_matched(page):
    for edition in (ROOT, ZH):
        texts = ["".join(c["source"]) for c in json.loads((edition / page).read_text(encoding="utf-8"))["cells"]
                 if c["cell_type"] == "markdown"] if page.suffix == ".ipynb" else [(edition / page).read_text("utf-8")]
        for text in texts:
            stray = stray_emphasis_marks(text)
            assert not stray, f"{edition.name}/{page}: asterisks shown as text, emphasis not matched: {stray[:3]}"


def test_the_emphasis_check_catches_marks_next_to_chinese_letters():
    assert stray_emphasis_marks("评分是**{term}`显式反馈 <x>`**：用户") != []
    assert stray_emphasis_marks("（*提示：*除非打开）") != []
    assert stray_emphasis_marks("评分是 **{term}`显式反馈 <x>`**：用户（*提示*：除非）, $a*b$ and **bold**.") == []


def glossary_entries(text: str) -> list[str]:
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip() and not line.startswith((" ", "\t"))]


@pytest.mark.skipif(not (ZH / "book" / "glossary.md").is_file(), reason="the glossary is not translated yet")
def test_the_chinese_glossary_names_every_english_entry_the_chinese_way_round():
    english = glossary_entries((ROOT / "book" / "glossary.md").read_text(encoding="utf-8"))
    chinese = glossary_entries((ZH / "book" / "glossary.md").read_text(encoding="utf-8"))
    assert chinese == [swap_term(entry) for entry in english]


# --- the checks check ----------------------------------------------------------------------------------------

def test_the_skeleton_catches_what_translation_must_not_change():
    english = ("(sec-x)=\n## Losses\nThe loss $J(\\theta)$ is {glue:text}`rmse:.3f`, see {eq}`eq-ch02-mse` and "
               "{numref}`Figure %s <fig-ch02-a>`; a {term}`loss function <Loss function (损失函数)>`.\n"
               "$$\nJ = 1\n$$ (eq-ch02-mse)\n:::{exercise} Derive it\n:label: ex-ch02-1\n:::\n")
    good = ("(sec-x)=\n## 损失\n损失 $J(\\theta)$ 为 {glue:text}`rmse:.3f`，见 {eq}`eq-ch02-mse` 与 "
            "{numref}`图 %s <fig-ch02-a>`；{term}`损失函数 <损失函数 (Loss function)>`。\n"
            "$$\nJ = 1\n$$ (eq-ch02-mse)\n:::{exercise} 推导\n:label: ex-ch02-1\n:::\n")
    assert_same_skeleton(english, good, "example")
    broken = {
        "a glue key": good.replace("rmse:.3f", "rmse:.2f"),
        "a label": good.replace("(sec-x)=", "(sec-y)="),
        "a formula": good.replace("J = 1", "J = 2"),
        "an inline formula": good.replace("$J(\\theta)$", "$J$"),
        "an equation reference": good.replace("{eq}`eq-ch02-mse`", "(2.1)"),
        "a figure reference": good.replace("fig-ch02-a", "fig-ch02-b"),
        "a glossary link": good.replace("损失函数 (Loss function)", "损失 (Loss function)"),
        "an exercise label": good.replace(":label: ex-ch02-1", ":label: ex-ch02-2"),
        "a heading": good.replace("## 损失\n", ""),
        "a line break in Chinese prose": good.replace("损失 $J", "损\n失 $J"),
        "a line break after emphasis": good.replace("损失 $J", "*损*\n失 $J"),
        "the translation": english,
    }
    for what, text in broken.items():
        with pytest.raises(AssertionError):
            assert_same_skeleton(english, text, what)


# --- the build's pieces (book/_ext/recsys_lite_editions.py) ------------------------------------------------

@pytest.fixture
def editions():
    import sys

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import recsys_lite_editions

        yield recsys_lite_editions
    finally:
        sys.path.remove(str(ROOT / "book" / "_ext"))


def _figure_notebook(caption: str):
    import nbformat

    cell = nbformat.v4.new_code_cell("print(1)", metadata={"mystnb": {"figure": {"caption": caption, "name": "f"}},
                                                           "tags": ["keep"]})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("prose"), cell],
                                    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})


def test_the_execution_cache_serves_a_notebook_whose_only_change_is_its_captions(editions, tmp_path, monkeypatch):
    """The Chinese notebook (captions translated) is read back from the English one's cached execution, and keeps
    its own captions; a change to the code (or to another metadata key) is still a different notebook."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.cache.main import JupyterCacheBase

    monkeypatch.setattr(JupyterCacheBase, "create_hashed_notebook", JupyterCacheBase.create_hashed_notebook)
    monkeypatch.setattr(JupyterCacheBase, "merge_match_into_notebook", JupyterCacheBase.merge_match_into_notebook)
    def cached_english(folder):
        cache = get_cache(tmp_path / folder)
        cache.cache_notebook_bundle(CacheBundleIn(_figure_notebook("A caption"), str(tmp_path / "en.ipynb")),
                                    check_validity=False)
        return cache

    chinese = _figure_notebook("图注")
    chinese.cells[1].outputs = []
    with pytest.raises(KeyError):   # jupyter-cache alone: the caption is part of the key
        cached_english("plain").match_cache_notebook(chinese)
    editions._cache_ignores_display_metadata()
    cache = cached_english("ours")
    cache.match_cache_notebook(chinese)
    _, merged = cache.merge_match_into_notebook(chinese)
    assert merged.cells[1].metadata["mystnb"]["figure"]["caption"] == "图注"
    assert merged.cells[1].outputs[0]["text"] == "1\n"
    other_code = _figure_notebook("图注")
    other_code.cells[1].source = "print(2)"
    other_tags = _figure_notebook("图注")
    other_tags.cells[1].metadata["tags"] = ["other"]
    for different in (other_code, other_tags):
        with pytest.raises(KeyError):
            cache.match_cache_notebook(different)


def test_the_chinese_build_shows_a_glued_phrase_in_chinese_and_flags_english_only_words(editions, monkeypatch, caplog):
    import nbformat
    from IPython.core.formatters import format_display_data
    from myst_nb.ext import glue as myst_glue

    from recsys_lite import phrase

    monkeypatch.setattr(myst_glue, "extract_glue_data_cell", myst_glue.extract_glue_data_cell)  # undone afterwards

    def glued(name, value):
        data, _ = format_display_data(value)
        prefix = "application/papermill.record/"
        return nbformat.v4.new_output("display_data", data={prefix + k: v for k, v in data.items()},
                                      metadata={"scrapbook": {"name": name, "mime_prefix": prefix}})

    def cell():
        return nbformat.v4.new_code_cell(outputs=[glued("verdict", phrase("beats", "优于")),
                                                  glued("word", "within noise"), glued("gap", "3e-08"),
                                                  glued("ratio", 0.5)])

    english = dict(myst_glue.extract_glue_data_cell(cell()))
    assert english["verdict"]["data"]["text/plain"] == repr("beats")
    editions._glue_in_chinese(None, type("Config", (), {"language": "zh_CN"})())
    with caplog.at_level("WARNING"):
        chinese = dict(myst_glue.extract_glue_data_cell(cell()))
    assert chinese["verdict"]["data"]["text/plain"] == repr("优于")
    assert chinese["word"]["data"]["text/plain"] == repr("within noise")
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "'word'" in warned[0] and "phrase" in warned[0], warned


def test_each_page_links_to_its_counterpart_in_the_other_edition(editions):
    assert editions.counterpart("chapters/05_collaborative_filtering", False, {"chapters/05_collaborative_filtering"}) \
        == ("../zh/chapters/05_collaborative_filtering.html", "zh-Hans", "中文", "zh-Hans")
    assert editions.counterpart("book/intro", True, set())[0] == "../../book/intro.html"
    assert editions.counterpart("book/intro", False, set()) is None   # not translated: no link


def test_the_chinese_edition_is_built_and_linked_only_once_every_page_is_translated(editions, tmp_path):
    english = editions.toc_pages(ROOT / "_toc.yml")
    assert "book/intro" in english and "chapters/08_a_complete_recommender" in english
    translated = editions.toc_pages(ZH / "_toc.yml")
    assert translated == {str(p.with_suffix("")) for p in PAGES}
    assert editions.chinese_pages() == (translated if english <= translated else set())


def test_the_chinese_build_rereads_every_page_only_when_the_english_build_read_one(editions, tmp_path, monkeypatch):
    """The English build runs the Chinese one with its own builder, flags and execution cache, into <outdir>/zh;
    with ``--all`` when it read any page again (its outputs may have changed), without when it read none."""
    commands = []

    def run(command, env, cwd):
        commands.append((command, env))
        (tmp_path / "zh" / "_build" / "singlehtml").mkdir(parents=True, exist_ok=True)
        return type("Done", (), {"returncode": 0})()

    monkeypatch.setattr(editions.subprocess, "run", run)
    monkeypatch.setattr(editions, "toc_pages", lambda toc: {"book/intro"})
    config = type("Config", (), {"language": "en", "nb_execution_cache_path": str(tmp_path / ".jupyter_cache")})()
    app = type("App", (), {"config": config, "outdir": str(tmp_path / "singlehtml"), "warningiserror": False,
                           "keep_going": True, "builder": type("Builder", (), {"name": "singlehtml"})()})()
    for docnames in (["book/intro"], []):
        editions._note_the_pages_read(app, None, docnames)
        editions.build_the_chinese_edition(app, None)
    (first, env), (second, _) = commands
    assert first[first.index("--builder") + 1] == "singlehtml" and {"-W", "--keep-going"} <= set(first)
    assert "--all" in first and [a for a in first if a != "--all"] == second
    assert env[editions.EDITION_OF] == str(tmp_path / ".jupyter_cache")
    assert (tmp_path / "singlehtml" / "zh").is_dir()


def test_the_search_dictionary_holds_the_glossary_s_chinese_terms(editions, tmp_path):
    glossary = tmp_path / "glossary.md"
    glossary.write_text("# 术语表\n\n```{glossary}\n协同过滤 (Collaborative filtering)\n  定义。\n\n"
                        "Top-N 推荐 (Top-N recommendation)\n  定义。\n\nJAX\n  定义。\n```\n", encoding="utf-8")
    assert editions.glossary_terms(glossary) == ["协同过滤"]
    if (ZH / "book" / "glossary.md").is_file():
        terms = editions.glossary_terms(ZH / "book" / "glossary.md")
        assert {"协同过滤", "损失函数", "梯度下降", "卷积核", "循环层"} <= set(terms)


def test_the_chinese_indexer_stems_as_sphinx_s_own_does(editions, monkeypatch, tmp_path):
    """The linear-time Chinese search language indexes exactly the words Sphinx's (quadratic) one does."""
    from sphinx import search
    from sphinx.search.zh import SearchChinese

    monkeypatch.setattr(SearchChinese, "latin_terms", [])  # Sphinx's class-wide list, emptied for this test
    monkeypatch.setitem(search.languages, "zh", search.languages["zh"])  # undone afterwards
    config = type("Config", (), {"language": "zh_CN", "html_search_options": {}})()
    app = type("App", (), {"outdir": str(tmp_path / "html")})()
    editions._search_with_the_glossary_terms(app, config)
    faster = search.languages["zh"]
    assert issubclass(faster, SearchChinese) and faster is not SearchChinese
    pages = ["协同过滤用 MF 学习嵌入，ALS 交替求解。", "The GRU was trained; its was-ness is moot: MF, mf, ALS.",
             "损失函数 J(θ) 的梯度 ∇J，用 Adam 与 SGD 下降；BPR 与 WARP 是排序损失。"]
    reference, ours = SearchChinese({}), faster({})
    for page in pages:
        words = [reference.split(page), ours.split(page)]
        assert words[0] == words[1]
        assert [reference.stem(w) for w in words[0]] == [ours.stem(w) for w in words[1]]
    assert isinstance(ours.latin_terms, set) and set(reference.latin_terms) == ours.latin_terms


def test_the_chinese_execution_table_has_chinese_headings(editions, monkeypatch):
    from docutils import nodes
    from myst_nb.ext import execution_tables

    monkeypatch.setattr(execution_tables, "make_stat_table", execution_tables.make_stat_table)  # undone afterwards
    stats = {"chapters/01_x": {"exec_data": {"mtime": 0.0, "method": "cache", "runtime": 12.5, "succeeded": True}}}
    english = execution_tables.make_stat_table("book/execution", stats)
    editions._execution_table_in_chinese(None, type("Config", (), {"language": "zh_CN"})())
    chinese = execution_tables.make_stat_table("book/execution", stats)
    headings = [[str(t) for t in table.next_node(nodes.thead).findall(nodes.Text)] for table in (english, chinese)]
    assert headings[0] == list(editions.EXECUTION_TABLE_HEADINGS)
    assert headings[1] == list(editions.EXECUTION_TABLE_HEADINGS.values())
    assert english.next_node(nodes.tbody).astext() == chinese.next_node(nodes.tbody).astext()
