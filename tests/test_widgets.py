"""Tests of recsys_lite.widgets: grid, dedupe, static HTML, package files, live widgets, checks."""

import matplotlib

matplotlib.use("Agg")

import base64  # noqa: E402
import html  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
from html.parser import HTMLParser  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from recsys_lite import config, widgets  # noqa: E402
from recsys_lite.widgets import Param, explore  # noqa: E402

DPI = 40  # small frames keep the tests fast


def draw(*, lr, opt):
    """A cheap figure that differs for every (lr, opt); keyword-only on purpose."""
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, lr], color="C0" if opt == "sgd" else "C1")
    ax.set_title(f"{opt} {lr}")
    return fig, f"lr={lr} & opt={opt}"


PARAMS = {"lr": Param([0.01, 0.1, 0.5], label="α (learning rate)"), "opt": ["sgd", "adam"]}


def precompute(fn, params, *, image_format="png", dpi=DPI):
    """The frames a static explorer is built from: {(i, j, ...): _Frame(image, text)}."""
    return widgets._grid(fn, widgets._check(fn, params, image_format, dpi), image_format, dpi)


@pytest.fixture(scope="module")
def static():
    return explore(draw, title="Demo", mode="static", dpi=DPI, **PARAMS)


class Tags(HTMLParser):
    """Collects start tags with attributes, texts of <output>, and checks nesting."""

    CHECKED = {"div", "label", "output", "script", "p", "style"}

    def __init__(self, text):
        super().__init__()
        self.stack, self.tags, self.errors, self.outputs, self.script = [], [], [], [], ""
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.CHECKED:
            self.stack.append(tag)
        if tag == "output":
            self.outputs.append([dict(attrs)["data-param-label"], ""])

    def handle_endtag(self, tag):
        if tag in self.CHECKED:
            if not self.stack or self.stack[-1] != tag:
                self.errors.append(f"unbalanced </{tag}> with open {self.stack}")
            else:
                self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "output":
            self.outputs[-1][1] += data
        if self.stack and self.stack[-1] == "script":
            self.script += data

    def find(self, tag, **attrs):
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


# --- grid and dedupe ---------------------------------------------------------


def test_precompute_visits_every_combination_once_with_keywords():
    calls = []

    def fn(*, a, b):
        calls.append((a, b))
        return draw(lr=a, opt=b)

    frames = precompute(fn, {"a": [1, 2, 3], "b": np.array(["sgd", "adam"])}, dpi=DPI)
    assert sorted(calls) == sorted(itertools.product([1, 2, 3], ["sgd", "adam"]))
    assert len(calls) == len(set(calls)) == 6
    assert all(type(b) is str for _, b in calls)  # numpy scalars arrive as Python values
    assert list(frames) == list(itertools.product(range(3), range(2)))
    assert frames[(2, 1)].text == "lr=3 &amp; opt=adam"  # plain text is escaped
    assert frames[(2, 1)].image.startswith(b"\x89PNG")


def test_three_params_index_a_cube():
    def fn(a, b, c):
        return draw(lr=a * c, opt=b)

    ex = explore(fn, mode="static", dpi=DPI, a=[1, 2], b=["sgd", "adam"], c=range(1, 4))
    tags = Tags(ex.html)
    assert [i["max"] for i in tags.find("input", type="range")] == ["1", "1", "2"]
    keys = re.search(r'"grid":\{(.*?)\}', tags.script).group(1)
    cube = itertools.product(range(2), range(2), range(3))
    assert re.findall(r'"(\d,\d,\d)"', keys) == [",".join(map(str, i)) for i in cube]
    assert ex.n_points == 12 and ex.n_params == 3


def test_dedupe_keeps_first_appearance_order():
    distinct, where = widgets._dedupe({"x": b"1", "y": b"2", "z": b"1"})
    assert distinct == [b"1", b"2"]
    assert where == {"x": 0, "y": 1, "z": 0}


def test_identical_frames_are_stored_once():
    def fn(lr, opt):  # ignores opt: 3 distinct images over 6 grid points
        return draw(lr=lr, opt="sgd")[0]

    ex = explore(fn, mode="static", dpi=DPI, **PARAMS)
    assert (ex.n_points, ex.n_frames) == (6, 3)
    assert ex.html.count("data:image/png;base64,") == 3
    assert "6 frames (3 distinct)" in ex.html


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_frames_are_byte_identical_across_renders(fmt):
    one = precompute(draw, PARAMS, image_format=fmt, dpi=DPI)
    two = precompute(draw, PARAMS, image_format=fmt, dpi=DPI)
    assert one == two
    assert len({f.image for f in one.values()}) == 6


def test_figures_closed_and_rcparams_restored():
    salt = plt.rcParams["svg.hashsalt"]
    precompute(draw, PARAMS, image_format="svg", dpi=DPI)
    explore(draw, mode="live", dpi=DPI, **PARAMS)
    assert plt.get_fignums() == []
    assert plt.rcParams["svg.hashsalt"] == salt


def test_fn_returning_none_uses_current_figure():
    def fn(x):
        plt.figure(figsize=(1, 1))
        plt.plot([0, x])

    frames = precompute(fn, {"x": [1, 2]}, dpi=DPI)
    assert frames[(0,)].image != frames[(1,)].image and frames[(0,)].text is None


# --- the static snippet --------------------------------------------------------


def test_html_is_well_formed_with_one_labelled_range_per_param(static):
    tags = Tags(static.html)
    assert tags.errors == [] and tags.stack == []
    (root,) = tags.find("div", **{"class": "rl-explorer"})
    assert root["id"] == static.id and re.fullmatch(r"rl-explorer-[0-9a-f]{12}", static.id)
    assert root["data-params"] == "lr,opt"
    inputs = tags.find("input", type="range")
    assert [i["data-param"] for i in inputs] == ["lr", "opt"]
    assert [(i["min"], i["max"], i["step"]) for i in inputs] == [("0", "2", "1"), ("0", "1", "1")]
    assert [i["value"] for i in inputs] == ["1", "0"]  # the middle value (the first of two)
    assert [lab["for"] for lab in tags.find("label")] == [i["id"] for i in inputs]
    assert [o["for"] for o in tags.find("output")] == [i["id"] for i in inputs]
    assert [i["aria-valuetext"] for i in inputs] == ["0.1", "sgd"]
    (img,) = tags.find("img", **{"class": "rl-explorer-frame"})
    assert img["src"].startswith("data:image/png;base64,")
    assert img["alt"] == "Demo: α (learning rate) = 0.1, opt = sgd. Plot 'sgd 0.1'"


def test_initial_frame_matches_the_output_labels(static):
    tags = Tags(static.html)
    (img,) = tags.find("img", **{"class": "rl-explorer-frame"})
    from_outputs = ";".join(f"{name}={text}" for name, text in tags.outputs)
    assert img["data-values"] == from_outputs == "lr=0.1;opt=sgd"
    frames = precompute(draw, PARAMS, dpi=DPI)
    assert base64.b64decode(img["src"].split(",", 1)[1]) == frames[(1, 0)].image
    assert f'<div class="rl-explorer-text">{frames[(1, 0)].text}</div>' in static.html


def test_param_default_and_label():
    ex = explore(draw, mode="static", dpi=DPI, lr=Param([0.01, 0.1, 0.5], default=0.5), opt=["sgd"])
    tags = Tags(ex.html)
    assert tags.find("input", type="range")[0]["value"] == "2"
    assert tags.outputs == [["lr", "0.5"], ["opt", "sgd"]]
    assert tags.find("label")[0] == {"for": f"{ex.id}-lr"}


def test_self_contained_no_external_urls_or_loaders(static):
    text = static.html
    for bad in ("http://", "https://", 'src="//', "href=\"//", "<link", "<script src", "url("):
        assert bad not in text
    tags = Tags(text)
    for word in ("fetch(", "import(", "XMLHttpRequest", "eval("):
        assert word not in tags.script
    assert "max-width:100%" in text and "height:auto" in text


def test_script_and_style_come_from_the_package_files(static):
    from importlib import resources

    folder = resources.files("recsys_lite") / "_static"
    css = folder.joinpath("explorer.css").read_text("utf-8")
    js = folder.joinpath("explorer.js").read_text("utf-8")
    assert f"<style>{''.join(css.splitlines())}</style>" in static.html
    before, after = js.rstrip("\n").split("$data")
    script = Tags(static.html).script
    assert script.startswith(before) and script.endswith(after)
    data = json.loads(script[len(before):-len(after)])
    assert data["id"] == static.id and data["names"] == ["lr", "opt"]


def test_every_value_is_escaped():
    def fn(x):
        return draw(lr=0.1, opt="sgd")[0], "a <b> & c"

    nasty = 'T <script>"&\''
    ex = explore(fn, title=nasty, mode="static", dpi=DPI, x=Param(["<i>", "&amp;", '"q"'], label="<b>x</b>"))
    tags = Tags(ex.html)
    assert tags.errors == [] and "<script>\"" not in ex.html and "<b>" not in ex.html and "<i>" not in ex.html
    assert tags.find("p", **{"class": "rl-explorer-title"})
    assert html.escape(nasty) in ex.html and "&lt;b&gt;x&lt;/b&gt;" in ex.html
    (inp,) = tags.find("input", type="range")
    assert inp["aria-valuetext"] == "&amp;" and tags.outputs == [["x", "&amp;"]]
    assert "a &lt;b&gt; &amp; c" in ex.html
    (img,) = tags.find("img")
    assert img["alt"] == f"{nasty}: <b>x</b> = &amp;. Plot 'sgd 0.1'" and img["data-values"] == "x=&amp;"
    box = explore(fn, title=nasty, mode="live", dpi=DPI, x=["a"])
    assert box.children[0].value == f"<b>{html.escape(nasty)}</b>"


def test_external_url_in_text_is_refused():
    with pytest.raises(ValueError, match="self-contained"):
        explore(lambda x: (draw(lr=x, opt="sgd")[0], "see https://example.com"), mode="static", dpi=DPI, x=[1])


def test_deterministic_html_and_distinct_ids(static):
    again = explore(draw, title="Demo", mode="static", dpi=DPI, **PARAMS)
    assert again.html == static.html
    retitled = explore(draw, title="Other", mode="static", dpi=DPI, **PARAMS)
    revalued = explore(draw, title="Demo", mode="static", dpi=DPI, lr=[0.01, 0.2], opt=["sgd", "adam"])
    assert len({static.id, retitled.id, revalued.id}) == 3


def test_svg_frames_and_dataframe_text():
    pd = pytest.importorskip("pandas")

    def fn(k):
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.bar(range(k), range(k))
        return fig, pd.DataFrame({"k": [k]})

    ex = explore(fn, mode="static", image_format="svg", k=[1, 2])
    assert ex.html.count("data:image/svg+xml;base64,") == 2
    assert "<table" in ex.html and Tags(ex.html).errors == []


def test_weight_budget_raises_with_size_budget_and_advice(monkeypatch):
    monkeypatch.setattr(widgets, "FRAME_BUDGET_BYTES", 10_000)
    with pytest.raises(ValueError, match=r"weigh 0\.\d\d MB .*budget is 0\.01 MB.*fewer values.*dpi.*svg"):
        explore(draw, mode="static", dpi=DPI, **PARAMS)


def test_weight_is_exposed(static):
    assert 0 < static.nbytes <= widgets.FRAME_BUDGET_BYTES
    assert f"6 frames (6 distinct), {static.nbytes / 1000:.0f} kB" in static.html


def test_notebook_output_is_html_with_plain_fallback(static):
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(static)
    assert data["text/html"] == static.html
    assert data["text/plain"].startswith("<Explorer: 2 params, 6 frames (6 distinct),")
    assert not any("widget" in mime for mime in data)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the inline script")
def test_script_swaps_the_right_frame_at_every_grid_point(static):
    """Run the inline script in node against a tiny fake DOM and visit the grid."""
    tags = Tags(static.html)
    inputs = [{"value": i["value"]} for i in tags.find("input", type="range")]
    src = tags.find("img", **{"class": "rl-explorer-frame"})[0]["src"]
    harness = """
    const inputs = %s.map(i => ({value: i.value, attrs: {}, fns: [],
        setAttribute(k, v) { this.attrs[k] = v; }, addEventListener(t, f) { if (t === "input") this.fns.push(f); }}));
    const outs = inputs.map(() => ({textContent: ""}));
    const img = {attrs: {src: %s}, src: null, alt: "", getAttribute(k) { return this.attrs[k]; },
        setAttribute(k, v) { this.attrs[k] = v; }};
    const txt = {innerHTML: ""};
    const root = {querySelectorAll: s => s.startsWith("input") ? inputs : outs,
                  querySelector: s => s.startsWith("img") ? img : txt};
    globalThis.document = {currentScript: {closest: () => root}};
    %s
    const seen = {};
    for (const idx of %s) {
      idx.forEach((v, i) => { inputs[i].value = String(v); });
      inputs[idx.length - 1].fns.forEach(f => f());
      seen[idx.join(",")] = [img.src, img.attrs["data-values"], outs.map(o => o.textContent),
                             txt.innerHTML, inputs.map(i => i.attrs["aria-valuetext"]), img.alt];
    }
    console.log(JSON.stringify(seen));
    """
    grid = [list(i) for i in itertools.product(range(3), range(2))]
    js = harness % (json.dumps(inputs), json.dumps(src), tags.script, json.dumps(grid))
    seen = json.loads(subprocess.run(["node", "-e", js], capture_output=True, text=True, check=True).stdout)
    frames = precompute(draw, PARAMS, dpi=DPI)
    labels = [["0.01", "0.1", "0.5"], ["sgd", "adam"]]
    for (i, j), frame in frames.items():
        uri, values, outs, text, aria, alt = seen[f"{i},{j}"]
        assert base64.b64decode(uri.split(",", 1)[1]) == frame.image
        assert outs == aria == [labels[0][i], labels[1][j]]
        assert values == f"lr={labels[0][i]};opt={labels[1][j]}"
        assert text == frame.text
        assert alt == f"Demo: α (learning rate) = {outs[0]}, opt = {outs[1]}. Plot '{outs[1]} {outs[0]}'"


# --- mode detection and the live widget ------------------------------------------


def test_mode_follows_the_book_build_flag_unless_given(monkeypatch):
    import ipywidgets

    small = dict(dpi=DPI, lr=[0.1], opt=["sgd"])
    monkeypatch.delenv(config.STATIC_WIDGETS, raising=False)
    assert isinstance(explore(draw, **small), ipywidgets.Widget)
    assert isinstance(explore(draw, mode="static", **small), widgets.StaticExplorer)
    monkeypatch.setenv(config.STATIC_WIDGETS, "0")
    assert isinstance(explore(draw, **small), ipywidgets.Widget)
    monkeypatch.setenv(config.STATIC_WIDGETS, "1")
    assert config.book_build() is True
    assert isinstance(explore(draw, **small), widgets.StaticExplorer)
    assert isinstance(explore(draw, mode="live", **small), ipywidgets.Widget)
    monkeypatch.setenv(config.STATIC_WIDGETS, "sometimes")
    with pytest.raises(ValueError, match="RECSYS_LITE_STATIC_WIDGETS"):
        explore(draw, **small)


def test_widgets_reads_no_environment_itself():
    source = open(widgets.__file__, encoding="utf-8").read()
    assert "environ" not in source and "getenv" not in source and "config.book_build()" in source


def test_live_mode_builds_controls_and_redraws(monkeypatch):
    import ipywidgets

    monkeypatch.delenv(config.STATIC_WIDGETS, raising=False)
    calls = []

    def fn(*, lr, steps, opt):
        calls.append(dict(lr=lr, steps=steps, opt=opt))
        return draw(lr=lr, opt=opt)

    box = explore(fn, title="Live", continuous=False, dpi=DPI, lr=[0.01, 0.1, 0.5], steps=[10, 20], opt=["sgd", "adam"])
    assert isinstance(box, ipywidgets.Box)
    sliders = [c for c in box.children if isinstance(c, ipywidgets.SelectionSlider)]
    toggles = [c for c in box.children if isinstance(c, ipywidgets.ToggleButtons)]
    assert [s.description for s in sliders] == ["lr", "steps"] and len(toggles) == 1
    assert all(s.continuous_update is False for s in sliders)
    assert any(isinstance(c, ipywidgets.Output) for c in box.children)
    assert calls == [dict(lr=0.1, steps=10, opt="sgd")]
    sliders[0].value = 0.5
    assert calls[-1] == dict(lr=0.5, steps=10, opt="sgd")
    toggles[0].value = "adam"
    assert calls[-1] == dict(lr=0.5, steps=10, opt="adam") and len(calls) == 3
    assert plt.get_fignums() == []


# --- input checks ------------------------------------------------------------------------


def ok(lr=0.1, opt="sgd"):
    return draw(lr=lr, opt=opt)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: explore(ok, mode="static"), ValueError, ["params", "1 to 3", "got 0"]),
        (lambda: explore(ok, mode="static", a=[1], b=[1], c=[1], d=[1]), ValueError, ["params", "got 4"]),
        (lambda: explore(ok, mode="static", lr=[]), ValueError, ["`lr`", "at least one", "list []"]),
        (lambda: explore(ok, mode="static", lr=0.1), TypeError, ["`lr`", "sequence", "float 0.1"]),
        (lambda: explore(ok, mode="static", opt="sgd"), TypeError, ["`opt`", "sequence", "str 'sgd'"]),
        (lambda: explore(ok, mode="static", lr={0.1, 0.2}), TypeError, ["`lr`", "sequence", "set"]),
        (lambda: explore(ok, mode="static", lr=np.ones((2, 2))), ValueError, ["`lr`", "1-D", "(2, 2)"]),
        (lambda: explore(ok, mode="static", lr=[0.1, "x"]), TypeError, ["`lr`", "only numbers or only strings"]),
        (lambda: explore(ok, mode="static", lr=[0.1, 0.1]), ValueError, ["`lr`", "distinct"]),
        (lambda: explore(ok, mode="static", lr=Param([0.1, 0.2], default=0.3)), ValueError,
         ["default of `lr`", "0.3", "['0.1', '0.2']"]),
        (lambda: explore("ok", mode="static", lr=[0.1]), TypeError, ["`fn`", "function", "str 'ok'"]),
        (lambda: explore(ok, mode="static", beta=[0.1]), TypeError, ["`fn`", "['beta']"]),
        (lambda: explore(ok, mode="static", **{"l r": [0.1]}), ValueError, ["identifiers", "'l r'"]),
        (lambda: explore(ok, mode="static", lr=Param([0.1], label=3)), TypeError, ["label of lr", "int 3"]),
        (lambda: explore(ok, mode="static", lr=[0.1, float("inf")]), ValueError, ["`lr`", "finite"]),
        (lambda: explore(ok, mode="web", lr=[0.1]), ValueError, ["`mode`", "'web'"]),
        (lambda: explore(ok, mode="static", image_format="jpg", lr=[0.1]), ValueError, ["`image_format`", "'jpg'"]),
        (lambda: explore(ok, mode="static", dpi=0, lr=[0.1]), ValueError, ["`dpi`"]),
        (lambda: explore(lambda lr: 3, mode="static", lr=[0.1]), TypeError, ["Figure", "int 3"]),
        (lambda: explore(lambda lr: (ok(), "a", "b"), mode="static", lr=[0.1]), TypeError, ["(Figure, text)", "tuple"]),
        (lambda: explore(lambda lr: (ok()[0], 42), mode="static", lr=[0.1]), TypeError, ["text", "int 42"]),
    ],
)
def test_invalid_inputs_raise_naming_the_argument(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert plt.get_fignums() == []


# --- alt text of the frames --------------------------------------------------------


def test_describe_figure_reads_titles_axis_labels_and_legends():
    fig, (left, right, empty) = plt.subplots(1, 3)
    fig.suptitle("Two bowls")
    left.plot([0, 1], [1, 0], label="train")
    left.plot([0, 1], [2, 1], label=r"$\theta^\ast$")
    left.set(title="Loss", xlabel="epoch", ylabel="$J(\\theta)$")
    left.legend()
    right.set_xlabel("rank")
    assert widgets.describe_figure(fig) == (
        "Figure 'Two bowls' | Plot 'Loss': J(theta) against epoch; legend: train, theta^ast | Plot: rank")
    plt.close(fig)
    bare, _ = plt.subplots()
    assert widgets.describe_figure(bare) == ""
    plt.close(bare)
    with pytest.raises(TypeError, match="`fig` must be a matplotlib Figure; got"):
        widgets.describe_figure("fig.png")


def test_every_frame_has_a_descriptive_alt_that_follows_the_frame():
    """alt = the caller's description, the slider values and what the frame itself shows, never a file or URI."""
    def fn(*, K):
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.plot(range(K), label="hit rate")
        ax.set(title=f"top {K}", xlabel="K", ylabel="HR@K")
        ax.legend()
        return fig

    ex = explore(fn, alt="Hit rate against the cut-off", mode="static", dpi=DPI, K=Param([5, 10], label="cut-off"))
    (img,) = Tags(ex.html).find("img", **{"class": "rl-explorer-frame"})
    assert img["alt"] == "Hit rate against the cut-off: cut-off = 5. Plot 'top 5': HR@K against K; legend: hit rate"
    assert not any(bad in img["alt"] for bad in (".png", ".svg", "data:", "base64"))
    data = json.loads(re.search(r"var D = (\{.*?\}), s =", Tags(ex.html).script).group(1))
    assert data["prefix"] == "Hit rate against the cut-off: "
    assert [data["descriptions"][data["descriptionGrid"][k]] for k in ("0", "1")] == [
        ". Plot 'top 5': HR@K against K; legend: hit rate", ". Plot 'top 10': HR@K against K; legend: hit rate"]
    untitled = explore(fn, mode="static", dpi=DPI, K=[5])  # no title, no alt: "Figure", still described
    assert Tags(untitled.html).find("img")[0]["alt"] == "Figure: K = 5. Plot 'top 5': HR@K against K; legend: hit rate"
    with pytest.raises(TypeError, match="`alt`"):
        explore(fn, alt=3, mode="static", dpi=DPI, K=[5])


def test_frame_alt_joins_head_values_and_description():
    assert widgets.frame_alt("Loss curve", [("α", "0.1"), ("B", "32")]) == "Loss curve: α = 0.1, B = 32"
    assert widgets.frame_alt("Loss", [("α", "0.1")], "Plot: loss against epoch") == (
        "Loss: α = 0.1. Plot: loss against epoch")
