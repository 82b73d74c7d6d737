"""Slider explorers that work live in a kernel and on the static website.

One call, :func:`explore`, serves both worlds::

    def draw(lr, steps):                      # called with keywords
        fig, ax = plt.subplots(figsize=(5, 3))
        ...                                   # train, then plot the loss curve
        return fig, f"final loss {loss:.3f}"  # the text is optional

    explore(draw, title="Gradient descent",
            lr=Param([0.01, 0.1, 0.5], label="η (learning rate)"), steps=[10, 50, 100])

**Live** (in a kernel): ipywidgets controls wired to ``fn`` by ``ipywidgets.interactive_output``.
**Static** (while the book is built, :func:`recsys_lite.config.book_build`): ``fn`` runs once per point
of the grid of values and the figures become the frames of one self-contained HTML snippet (``data:``
URIs, ``_static/explorer.css`` and ``explorer.js`` inline, no CDN, no kernel) whose range inputs swap
frames instantly. Identical frames are stored once and weigh :data:`FRAME_BUDGET_BYTES` per explorer at most.

The snippet is the template ``_SNIPPET`` below, whose hooks the browser test relies on: its id hashes
the content (same inputs, same bytes); each range input indexes its parameter's values and its
``<output>`` shows the value (numbers as ``format(v, ".6g")``); the image's ``data-values``
(``lr=0.1;steps=50``) joins the outputs' ``name=text`` and changes with its ``src``; its ``alt`` is
:func:`frame_alt`'s text for the frame shown (what it shows, at which values), for a reader who cannot see it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import inspect
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from io import BytesIO
from string import Template
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from . import config
from ._checks import check_callable, check_finite, check_flag, check_nonempty, check_positive, check_str, describe

__all__ = ["FRAME_BUDGET_BYTES", "Param", "StaticExplorer", "describe_figure", "explore", "frame_alt"]

FRAME_BUDGET_BYTES = 1_500_000  #: max weight of one explorer's distinct frames
DEFAULT_DPI = 90
MAX_PARAMS = 3
_MIME = {"png": "image/png", "svg": "image/svg+xml"}
_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}  # no dates, no versions
_RC = {"svg.hashsalt": "recsys-lite", "svg.fonttype": "none"}
_EXTERNAL_URL = re.compile(r"https?://|(?:src|href|srcset|action)\s*=\s*[\"']?\s*//|url\(\s*[\"']?\s*//", re.I)
_STATIC = resources.files("recsys_lite") / "_static"  # package data, shipped in the wheel
_CSS = "".join(line.strip() for line in _STATIC.joinpath("explorer.css").read_text("utf-8").splitlines())
_SCRIPT = Template(_STATIC.joinpath("explorer.js").read_text("utf-8").rstrip("\n"))  # $data: the frames as JSON

# The static snippet. _fill escapes every value except _Html ones (markup built here).
_SNIPPET = Template(
    '<div class="rl-explorer" id="$id" data-params="$params" role="group" aria-$labelling="$label">\n'
    "<style>$css</style>\n"
    "$title$controls\n"
    '<img class="rl-explorer-frame" src="$src" alt="$alt" data-values="$values">\n'
    '$text<p class="rl-explorer-weight">$weight</p><script>$script</script></div>')
_TITLE = Template('<p class="rl-explorer-title" id="$id">$title</p>\n')
_CONTROL = Template(
    '<div class="rl-explorer-control"><label for="$id">$label</label>'
    '<input type="range" id="$id" data-param="$name" min="0" max="$max" step="1" value="$index" '
    'aria-valuetext="$value" autocomplete="off"><output for="$id" data-param-label="$name">$value</output></div>')
_TEXT = Template('<div class="rl-explorer-text">$text</div>\n')
_HEADING = Template("<b>$title</b>")  # live mode


class _Html(str):
    """Markup: built here by :func:`_fill`, or the text ``fn`` returned, already HTML."""


def _fill(template: Template, **values: Any) -> _Html:
    return _Html(template.substitute({k: v if isinstance(v, _Html) else html.escape(str(v))
                                      for k, v in values.items()}))


@dataclass(frozen=True)
class Param:
    """One explorer parameter: its values, a display label and the initial value.

    Args:
        values: the choices in slider order: a list, tuple, range or 1-D array of numbers, or of strings
            (booleans count as strings).
        label: text shown beside the slider; default: the parameter's name.
        default: the initial value, one of ``values``; None (the default): the middle value
            ``values[(len(values) - 1) // 2]`` (the first of two).
    """

    values: Any
    label: str | None = None
    default: Any = None  # never a value: values are numbers or strings


class _Frame(NamedTuple):
    image: bytes  # PNG or SVG
    text: _Html | None
    description: str = ""  # describe_figure(fig): the frame's titles, axis labels and legend


_MATH_COMMAND = re.compile(r"\\([A-Za-z]+)")


def _plain(text: str) -> str:
    """Matplotlib text for a screen reader: mathtext's ``$``, braces and backslashes dropped."""
    text = _MATH_COMMAND.sub(r"\1", text).replace("$", "").replace("{", "").replace("}", "")
    return " ".join(text.split())


def describe_figure(fig: Figure) -> str:
    """What a figure shows, in words read from it: each panel's title, its y and x axis labels, its legend.

    Args:
        fig: a matplotlib figure.

    Returns:
        e.g. ``"Plot 'Loss': loss against epoch; legend: train, validation"``; panels (axes with any of
        these texts) joined by ``" | "`` after the figure's suptitle; ``""`` when the figure has no such text.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"`fig` must be a matplotlib Figure; got {describe(fig)}.")
    panels = []
    for ax in fig.axes:
        title = " ".join(_plain(ax.get_title(loc)) for loc in ("left", "center", "right") if ax.get_title(loc))
        x, y = _plain(ax.get_xlabel()), _plain(ax.get_ylabel())
        axes = f"{y} against {x}" if x and y else y or x
        legend = ax.get_legend()
        keys = [_plain(t.get_text()) for t in legend.get_texts()] if legend is not None else []
        keys = [k for k in keys if k]
        parts = [f"Plot '{title}'" if title else "Plot"] + ([axes] if axes else [])
        if title or axes or keys:
            panels.append(": ".join(parts) + (f"; legend: {', '.join(keys)}" if keys else ""))
    suptitle = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    return " | ".join(([f"Figure '{_plain(suptitle)}'"] if suptitle else []) + panels)


def frame_alt(head: str, values: Sequence[tuple[str, str]], description: str = "") -> str:
    """The alt text of an explorer's frame: ``"{head}: {label} = {value}, …. {description}"``.

    Args:
        head: what every frame shows (``explore``'s ``alt``, else its title, else ``"Figure"``).
        values: ``(label, displayed value)`` of each slider, in order.
        description: this frame's :func:`describe_figure`, appended after a full stop when not empty.
    """
    text = f"{head}: " + ", ".join(f"{label} = {value}" for label, value in values)
    return f"{text}. {description}" if description else text


class _Spec(NamedTuple):
    name: str
    label: str
    values: list
    texts: list[str]  # the displayed value labels
    index: int  # initial index
    numbers: bool  # numbers get a slider, strings a choice


def _spec(name: str, raw: Any) -> _Spec:
    p = raw if isinstance(raw, Param) else Param(raw)
    if isinstance(p.values, np.ndarray) and p.values.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D sequence of values; got {describe(p.values)}.")
    if isinstance(p.values, (str, bytes)) or not isinstance(p.values, (Sequence, np.ndarray)):
        raise TypeError(f"`{name}` must be a sequence of values (list, tuple, range or 1-D array) "
                        f"or Param(values, ...); got {describe(p.values)}.")
    check_nonempty(name, p.values)
    vals = [v.item() if isinstance(v, np.generic) else v for v in p.values]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)
    if not (numbers or all(isinstance(v, (str, bool)) for v in vals)):
        raise TypeError(f"`{name}` must hold only numbers or only strings; got {describe(p.values)}.")
    if numbers:
        check_finite(name, vals)
    texts = [format(v, ".6g") if isinstance(v, float) else str(v) for v in vals]
    if len(set(texts)) < len(texts):
        raise ValueError(f"`{name}` must hold distinct values; got {texts}.")
    if p.default is not None and p.default not in vals:
        raise ValueError(f"the default of `{name}` must be one of its values {texts}; got {p.default!r}.")
    index = (len(vals) - 1) // 2 if p.default is None else vals.index(p.default)
    check_str(f"label of {name}", p.label, allow_none=True)
    return _Spec(name, p.label or name, vals, texts, index, numbers)


def _check(fn: Any, params: Mapping[str, Any], image_format: str, dpi: float) -> list[_Spec]:
    check_callable("fn", fn, "fn(**values) -> Figure")
    if not 1 <= len(params) <= MAX_PARAMS:
        raise ValueError(f"`params` must name 1 to {MAX_PARAMS} parameters as keyword arguments, "
                         f"e.g. explore(fn, lr=[0.01, 0.1]); got {len(params)}: {list(params)}.")
    if not isinstance(image_format, str) or image_format not in _MIME:
        raise ValueError(f"`image_format` must be 'png' or 'svg'; got {image_format!r}.")
    check_positive("dpi", dpi)
    for name in params:  # explore(fn, **{"a b": ...}) gets here
        if not name.isidentifier():
            raise ValueError(f"parameter names must be Python identifiers (fn is called with them as keywords); "
                             f"got {name!r}.")
    specs = [_spec(name, raw) for name, raw in params.items()]
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have none: let the call decide
        return specs
    try:
        signature.bind(**{s.name: s.values[s.index] for s in specs})
    except TypeError as err:
        raise TypeError(f"`fn` must accept the keyword arguments {[s.name for s in specs]}; "
                        f"got {getattr(fn, '__name__', fn)}{signature} ({err}).") from None
    return specs


def _text_html(text: Any) -> _Html | None:
    if text is None:
        return None
    if isinstance(text, str):  # plain text: escaped, line breaks kept
        return _Html(html.escape(text).replace("\n", "<br>"))
    for method in ("to_html", "_repr_html_"):  # pandas DataFrame, IPython.display.HTML
        if callable(getattr(text, method, None)):
            return _Html(getattr(text, method)())
    raise TypeError(f"the text returned by `fn` must be a str, a DataFrame or an object with "
                    f"_repr_html_; got {describe(text)}.")


def _frame(fn: Callable, values: dict, image_format: str, dpi: float) -> _Frame:
    """Call ``fn(**values)``, render its figure, close every figure it opened."""
    before = set(plt.get_fignums())
    try:
        with plt.rc_context(_RC), plt.ioff():
            result = fn(**values)
            fig, text = result if isinstance(result, tuple) and len(result) == 2 else (result, None)
            fig = plt.gcf() if fig is None else fig
            if not isinstance(fig, Figure):
                raise TypeError(f"`fn` must return a matplotlib Figure, None or (Figure, text); "
                                f"got {describe(result)}.")
            buf = BytesIO()
            fig.savefig(buf, format=image_format, dpi=dpi, metadata=_METADATA[image_format])
            description = describe_figure(fig)
            plt.close(fig)
            return _Frame(buf.getvalue(), _text_html(text), description)
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)


def _grid(fn: Callable, specs: list[_Spec], image_format: str, dpi: float) -> dict[tuple[int, ...], _Frame]:
    """``{(i_1, ..., i_k): frame}`` over the Cartesian grid of value indices, in ``itertools.product`` order."""
    return {idx: _frame(fn, {s.name: s.values[i] for s, i in zip(specs, idx)}, image_format, dpi)
            for idx in itertools.product(*(range(len(s.values)) for s in specs))}


def _dedupe(items: Mapping[Any, Any]) -> tuple[list, dict[Any, int]]:
    """``(distinct, where)``: the distinct items in order of first appearance, ``distinct[where[k]] == items[k]``."""
    first: dict[Any, int] = {}
    where = {key: first.setdefault(item, len(first)) for key, item in items.items()}
    return list(first), where


@dataclass(frozen=True, repr=False)
class StaticExplorer:
    """The static-mode result: one self-contained HTML snippet and its weight.

    ``nbytes`` is the weight of the distinct frames (base64 URIs plus texts);
    ``n_points`` counts grid points, ``n_frames`` distinct images.
    """

    html: str
    id: str
    n_params: int
    n_points: int
    n_frames: int
    nbytes: int

    def _repr_html_(self) -> str:
        return self.html

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"text/html": self.html, "text/plain": repr(self)}

    def __repr__(self) -> str:
        return (f"<Explorer: {self.n_params} params, {self.n_points} frames "
                f"({self.n_frames} distinct), {self.nbytes / 1000:.0f} kB>")


def _static(fn: Callable, specs: list[_Spec], title: str | None, image_format: str, dpi: float,
            alt: str | None = None) -> StaticExplorer:
    frames = _grid(fn, specs, image_format, dpi)
    descriptions, description_grid = _dedupe({k: f.description for k, f in frames.items()})
    head = alt or title or "Figure"
    images, grid = _dedupe({k: f.image for k, f in frames.items()})
    uris = [f"data:{_MIME[image_format]};base64,{base64.b64encode(b).decode('ascii')}" for b in images]
    has_text = any(f.text is not None for f in frames.values())
    texts, text_grid = _dedupe({k: f.text or "" for k, f in frames.items()}) if has_text else ([], {})
    nbytes = sum(map(len, uris)) + sum(len(t.encode()) for t in texts)
    if nbytes > FRAME_BUDGET_BYTES:
        raise ValueError(f"explore(): the static frames weigh {nbytes / 1e6:.2f} MB ({len(frames)} grid points, "
                         f"{len(uris)} distinct {image_format.upper()} images at dpi={dpi}, base64) but the budget "
                         f"is {FRAME_BUDGET_BYTES / 1e6:.2f} MB per explorer. To fit: fewer values per parameter "
                         f"(grid {' x '.join(str(len(s.values)) for s in specs)}), a lower dpi or smaller figsize, "
                         f"or image_format='svg' for simple line plots.")
    for text in texts:
        if _EXTERNAL_URL.search(text):
            raise ValueError(f"the text returned by `fn` must not link outside the page (the static "
                             f"explorer is self-contained); got {text[:80]!r}.")
    key = lambda idx: ",".join(map(str, idx))  # noqa: E731
    start = tuple(s.index for s in specs)
    data = {"names": [s.name for s in specs], "captions": [s.label for s in specs],
            "labels": [s.texts for s in specs], "prefix": f"{head}: ",
            "grid": {key(i): f for i, f in grid.items()}, "start": key(start),
            "descriptionGrid": {key(i): d for i, d in description_grid.items()},
            "descriptions": [f". {d}" if d else "" for d in descriptions],
            "textGrid": {key(i): t for i, t in text_grid.items()}, "texts": texts}
    digest = hashlib.sha256(json.dumps([title, image_format, dpi, data]).encode())
    for image in images:
        digest.update(hashlib.sha256(image).digest())
    uid = "rl-explorer-" + digest.hexdigest()[:12]
    data["id"] = uid
    data["frames"] = [None if i == grid[start] else u for i, u in enumerate(uris)]  # the first is the <img>'s
    js = json.dumps(data, separators=(",", ":"))  # ensure_ascii: no raw U+2028 in the script
    js = js.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")  # no "</script>" inside
    controls = [_fill(_CONTROL, id=f"{uid}-{s.name}", label=s.label, name=s.name, max=len(s.values) - 1,
                      index=s.index, value=s.texts[s.index]) for s in specs]
    snippet = _fill(
        _SNIPPET, id=uid, params=",".join(data["names"]),
        labelling="labelledby" if title else "label", label=f"{uid}-title" if title else "Figure explorer",
        css=_Html(_CSS), title=_fill(_TITLE, id=f"{uid}-title", title=title) if title else _Html(""),
        controls=_Html("\n".join(controls)), src=uris[grid[start]],
        alt=frame_alt(head, [(s.label, s.texts[s.index]) for s in specs], descriptions[description_grid[start]]),
        values=";".join(f"{s.name}={s.texts[s.index]}" for s in specs),
        text=_fill(_TEXT, text=_Html(texts[text_grid[start]])) if has_text else _Html(""),
        weight=f"{len(frames)} frames ({len(uris)} distinct), {nbytes / 1000:.0f} kB",
        script=_Html(_SCRIPT.substitute(data=js)))
    return StaticExplorer(str(snippet), uid, len(specs), len(frames), len(uris), nbytes)


def _live(fn: Callable, specs: list[_Spec], title: str | None, continuous: bool, image_format: str, dpi: float):
    import ipywidgets as w
    from IPython.display import HTML, SVG, Image, display

    def control(s: _Spec):
        common = dict(options=list(zip(s.texts, s.values)), value=s.values[s.index], description=s.label,
                      style={"description_width": "initial"})
        if s.numbers:
            return w.SelectionSlider(continuous_update=continuous,
                                     layout=w.Layout(width="100%", max_width="36em"), **common)
        return (w.ToggleButtons if len(s.values) <= 4 else w.Dropdown)(**common)

    def show(**values: Any) -> None:  # interactive_output calls it inside its Output, cleared first
        frame = _frame(fn, values, image_format, dpi)
        display(Image(data=frame.image, format="png") if image_format == "png" else SVG(data=frame.image))
        if frame.text is not None:
            display(HTML(_fill(_TEXT, text=frame.text)))

    controls = {s.name: control(s) for s in specs}
    output = w.interactive_output(show, controls)
    heading = [w.HTML(_fill(_HEADING, title=title))] if title else []
    return w.VBox(heading + list(controls.values()) + [output])


def explore(fn: Callable, *, title: str | None = None, continuous: bool = True, mode: str | None = None,
            image_format: str = "png", dpi: float = DEFAULT_DPI, alt: str | None = None, **params: Any):
    """Let the reader move sliders over ``params`` and see ``fn``'s figure react.

    Args:
        fn: called as ``fn(**values)`` (keywords only), one value per parameter; draws with matplotlib and
            returns the ``Figure`` (None: ``plt.gcf()``) or ``(Figure, text)``, where ``text`` (shown under the
            figure) is plain text (escaped), a DataFrame or an object with ``_repr_html_`` (``IPython.display.HTML``).
        title: heading of the explorer (also the start of the images' alt text when ``alt`` is None).
        continuous: live mode only; False recomputes on slider release (for a costly ``fn``).
        mode: ``"live"``, ``"static"`` or None: static while the book is built
            (:func:`recsys_lite.config.book_build`), live otherwise.
        image_format: ``"png"`` or ``"svg"`` frames.
        dpi: resolution of PNG frames.
        alt: what every frame shows, in words, for a reader who cannot see it (static mode); each frame's
            alt text is :func:`frame_alt`: this (default: ``title``), the slider values, and the frame's own
            titles, axis labels and legend (:func:`describe_figure`).
        **params: 1 to 3 parameters, ``name=values`` or ``name=Param(values, label=..., default=...)``: a slider
            for numbers, buttons or a menu for strings, starting at the middle value unless ``default`` is given.

    Returns:
        Live: an ``ipywidgets.VBox`` (title, controls, output), to leave as the cell's result.
        Static: a :class:`StaticExplorer`, whose HTML is the snippet of the module docstring.

    Raises:
        TypeError: ``fn`` not callable, not taking the names or returning something else; values not only
            numbers or only strings; ``title`` not a string, ``continuous`` not a bool.
        ValueError: 0 or over 3 parameters; values empty, NaN/inf or repeated; a default not among them; a bad
            ``mode``/``image_format``/``dpi``; static frames over the weight budget.
    """
    if not (mode is None or isinstance(mode, str)) or mode not in ("live", "static", None):
        raise ValueError(f"`mode` must be 'live', 'static' or None; got {describe(mode)}.")
    check_str("title", title, allow_none=True)
    check_str("alt", alt, allow_none=True)
    check_flag("continuous", continuous)
    specs = _check(fn, params, image_format, dpi)
    if mode == "static" or (mode is None and config.book_build()):
        return _static(fn, specs, title, image_format, dpi, alt)
    return _live(fn, specs, title, continuous, image_format, dpi)
