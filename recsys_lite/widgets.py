"""Slider explorers that work live in a kernel and on the static website.

One call, :func:`explore`, serves both worlds::

    def draw(lr, steps):                      # called with keywords
        fig, ax = plt.subplots(figsize=(5, 3))
        ...                                   # train, then plot the loss curve
        return fig, f"final loss {loss:.3f}"  # the text is optional

    explore(draw, title="Gradient descent",
            lr=Param([0.01, 0.1, 0.5], label="η (learning rate)"), steps=[10, 50, 100])

Two modes. **Live** (a Jupyter kernel): ipywidgets controls (``SelectionSlider``
for numbers, ``ToggleButtons`` or ``Dropdown`` for strings) wired to ``fn`` by
``ipywidgets.interactive_output``; ``continuous=False`` recomputes only on the slider's
release (use it for costly ``fn``). **Static** (the book build): ``fn`` runs
once per point of the Cartesian grid of values and the figures become frames
of ONE self-contained HTML snippet (``data:`` URIs, inline CSS, a few lines of
vanilla JS; no CDN, no kernel, no ipywidgets) that swaps frames instantly as
the reader moves a range input. The mode is static when
:func:`recsys_lite.config.book_build` says so; ``explore(..., mode=...)``
overrides that.

HTML hooks of the static snippet (stable: the browser test relies on them):

* ``<div class="rl-explorer" id="rl-explorer-<12 hex>" data-params="lr,steps">``;
  the id hashes the content, so the same inputs give byte-identical HTML and
  different explorers different ids. The script finds its container through
  ``document.currentScript`` and listens to ``input`` events.
* per parameter, in order, in a ``<div class="rl-explorer-control">``:
  ``<label for="<id>-<name>">``, ``<input type="range" id="<id>-<name>"
  data-param="<name>" min="0" max="<n-1>" step="1" value="<index>"
  aria-valuetext="<value>">`` (it indexes the values, strings too) and
  ``<output for="<id>-<name>" data-param-label="<name>">`` showing the value.
  Numbers show as ``format(v, ".6g")``, strings and booleans as ``str(v)``.
* ``<img class="rl-explorer-frame" data-values="lr=0.1;steps=50" alt="...">``:
  ``data-values`` equals ``";".join(name + "=" + text)`` over the ``<output>``
  elements in document order (``name`` its ``data-param-label``, ``text`` its
  ``textContent``) and changes together with ``src`` and ``alt``.
* ``<div class="rl-explorer-text">`` (only when ``fn`` returns text) and
  ``<p class="rl-explorer-weight">`` such as ``9 frames (7 distinct), 230 kB``.

Weight budget: identical images (and texts) are stored once; their base64
``data:`` URIs plus the texts may weigh at most :data:`FRAME_BUDGET_BYTES`
(1.5 MB) per explorer, else :func:`explore` raises ``ValueError`` at build
time. The whole grid is rendered before that check: keep grids to a few dozen.
"""

from __future__ import annotations

import base64
import hashlib
import html
import inspect
import itertools
import json
import re
from importlib import resources
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from string import Template
from typing import Any, Callable, Mapping, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from . import config
from ._checks import check_flag, check_positive, check_str, describe

FRAME_BUDGET_BYTES = 1_500_000  #: max weight of one explorer's distinct frames
DEFAULT_DPI = 90
MAX_PARAMS = 3
_MIME = {"png": "image/png", "svg": "image/svg+xml"}
_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}  # no dates, no versions
_RC = {"svg.hashsalt": "recsys-lite", "svg.fonttype": "none"}
_EXTERNAL_URL = re.compile(r"https?://|(?:src|href|srcset|action)\s*=\s*[\"']?\s*//|url\(\s*[\"']?\s*//", re.I)
_STATIC = resources.files("recsys_lite") / "_static"  # package data, shipped in the wheel
_CSS = "".join(_STATIC.joinpath("explorer.css").read_text("utf-8").splitlines())  # one rule a line, joined
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


class _Html(str):
    """Markup: built here by :func:`_fill`, or the text ``fn`` returned, already HTML."""


def _fill(template: Template, **values: Any) -> _Html:
    return _Html(template.substitute({k: v if isinstance(v, _Html) else html.escape(str(v))
                                      for k, v in values.items()}))


class _Middle:
    def __repr__(self) -> str:
        return "<middle value>"


_MIDDLE = _Middle()


@dataclass(frozen=True)
class Param:
    """One explorer parameter: its values, a display label and the initial value.

    Args:
        values: the choices in slider order: a list, tuple, range or 1-D array
            of numbers, or of strings (booleans count as strings).
        label: text shown beside the slider; default: the parameter's name.
        default: the initial value, one of ``values``; default: the middle
            value ``values[(len(values) - 1) // 2]`` (the first of two).
    """

    values: Any
    label: str | None = None
    default: Any = _MIDDLE


class Frame(NamedTuple):
    """One rendered grid point: image bytes (PNG or SVG) and optional HTML text."""

    image: bytes
    text: _Html | None


class _Spec(NamedTuple):
    name: str
    label: str
    values: list
    texts: list[str]  # the displayed value labels
    index: int  # initial index
    kind: str  # "number" or "choice"


def _fmt(value: Any) -> str:
    return format(value, ".6g") if isinstance(value, float) else str(value)


def _spec(name: str, raw: Any) -> _Spec:
    p = raw if isinstance(raw, Param) else Param(raw)
    vals = p.values
    if isinstance(vals, np.ndarray):
        if vals.ndim != 1:
            raise ValueError(f"`{name}` must be a 1-D sequence of values; got {describe(vals)}.")
        vals = vals.tolist()
    if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence):
        raise TypeError(f"`{name}` must be a sequence of values (list, tuple, range or 1-D array) "
                        f"or Param(values, ...); got {describe(vals)}.")
    vals = [v.item() if isinstance(v, np.generic) else v for v in vals]
    if not vals:
        raise ValueError(f"`{name}` must hold at least one value; got an empty {type(p.values).__name__}.")
    if all(isinstance(v, (str, bool)) for v in vals):
        kind = "choice"
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        kind = "number"
        if not all(np.isfinite(v) for v in vals):
            raise ValueError(f"`{name}` must hold finite numbers; got {describe(p.values)}.")
    else:
        raise TypeError(f"`{name}` must hold only numbers or only strings; got {describe(p.values)}.")
    texts = [_fmt(v) for v in vals]
    if len(set(texts)) < len(texts):
        raise ValueError(f"`{name}` must hold distinct values; got {texts}.")
    if p.default is _MIDDLE:
        index = (len(vals) - 1) // 2
    elif p.default in vals:
        index = vals.index(p.default)
    else:
        raise ValueError(f"the default of `{name}` must be one of its values {texts}; got {p.default!r}.")
    if p.label is not None and not isinstance(p.label, str):
        raise TypeError(f"the label of `{name}` must be a string; got {describe(p.label)}.")
    return _Spec(name, p.label or name, vals, texts, index, kind)


def _check(fn: Any, params: Mapping[str, Any], image_format: str, dpi: float) -> list[_Spec]:
    if not callable(fn):
        raise TypeError(f"`fn` must be callable (fn(**values) -> Figure); got {describe(fn)}.")
    if not isinstance(params, Mapping):
        raise TypeError(f"`params` must be a dict name -> values (or Param), e.g. {{'lr': [0.01, 0.1]}}; "
                        f"got {describe(params)}.")
    if not 1 <= len(params) <= MAX_PARAMS:
        raise ValueError(f"`params` must name 1 to {MAX_PARAMS} parameters as keyword arguments, "
                         f"e.g. explore(fn, lr=[0.01, 0.1]); got {len(params)}: {list(params)}.")
    if not isinstance(image_format, str) or image_format not in _MIME:
        raise ValueError(f"`image_format` must be 'png' or 'svg'; got {image_format!r}.")
    check_positive("dpi", dpi)
    for name in params:
        if not isinstance(name, str) or not name.isidentifier():
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


def _frame(fn: Callable, values: dict, image_format: str, dpi: float) -> Frame:
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
            plt.close(fig)
            return Frame(buf.getvalue(), _text_html(text))
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)


def _grid(fn: Callable, specs: list[_Spec], image_format: str, dpi: float) -> dict[tuple[int, ...], Frame]:
    return {idx: _frame(fn, {s.name: s.values[i] for s, i in zip(specs, idx)}, image_format, dpi)
            for idx in itertools.product(*(range(len(s.values)) for s in specs))}


def precompute(fn: Callable, params: Mapping[str, Any], *, image_format: str = "png",
               dpi: float = DEFAULT_DPI) -> dict[tuple[int, ...], Frame]:
    """Render ``fn`` at every point of the grid of parameter values.

    Args:
        fn: ``fn(**values) -> Figure | None | (Figure, text)`` (see :func:`explore`).
        params: name -> sequence of values or :class:`Param`, 1 to 3 entries.
        image_format: ``"png"`` or ``"svg"``.
        dpi: resolution of PNG frames.

    Returns:
        ``{(i_1, ..., i_k): Frame(image, text)}`` over all index tuples of the
        Cartesian grid, in ``itertools.product`` order; ``fn`` runs once each.

    Raises:
        TypeError, ValueError: invalid ``fn``, ``params``, ``image_format`` or ``dpi``.
    """
    return _grid(fn, _check(fn, params, image_format, dpi), image_format, dpi)


def dedupe(items: Mapping[Any, Any]) -> tuple[list, dict[Any, int]]:
    """Store each distinct item once.

    Args:
        items: key -> hashable item (e.g. grid point -> image bytes).

    Returns:
        ``(distinct, where)``: the distinct items in order of first appearance,
        and key -> index into ``distinct``, so ``distinct[where[k]] == items[k]``.

    Raises:
        TypeError: ``items`` is not a mapping, or holds an unhashable item.
    """
    if not isinstance(items, Mapping):
        raise TypeError(f"`items` must be a mapping key -> hashable item; got {describe(items)}.")
    for key, item in items.items():
        try:
            hash(item)
        except TypeError:
            raise TypeError(f"`items` must hold hashable items (bytes, str, tuples); got {describe(item)} "
                            f"at key {key!r}.") from None
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


def _static(fn: Callable, specs: list[_Spec], title: str | None, image_format: str, dpi: float) -> StaticExplorer:
    frames = _grid(fn, specs, image_format, dpi)
    images, grid = dedupe({k: f.image for k, f in frames.items()})
    uris = [f"data:{_MIME[image_format]};base64,{base64.b64encode(b).decode('ascii')}" for b in images]
    has_text = any(f.text is not None for f in frames.values())
    texts, text_grid = dedupe({k: f.text or "" for k, f in frames.items()}) if has_text else ([], {})
    nbytes = sum(map(len, uris)) + sum(len(t.encode()) for t in texts)
    if nbytes > FRAME_BUDGET_BYTES:
        raise ValueError(
            f"explore(): the static frames weigh {nbytes / 1e6:.2f} MB ({len(frames)} grid points, "
            f"{len(uris)} distinct {image_format.upper()} images at dpi={dpi}, base64) but the budget is "
            f"{FRAME_BUDGET_BYTES / 1e6:.2f} MB per explorer. To fit: fewer values per parameter (grid "
            f"{' x '.join(str(len(s.values)) for s in specs)}), a lower dpi or smaller figsize, "
            f"or image_format='svg' for simple line plots.")
    for text in texts:
        if _EXTERNAL_URL.search(text):
            raise ValueError(f"the text returned by `fn` must not link outside the page (the static "
                             f"explorer is self-contained); got {text[:80]!r}.")
    key = lambda idx: ",".join(map(str, idx))  # noqa: E731
    start = tuple(s.index for s in specs)
    data = {"names": [s.name for s in specs], "captions": [s.label for s in specs],
            "labels": [s.texts for s in specs], "prefix": f"{title or 'Figure'}: ",
            "grid": {key(i): f for i, f in grid.items()}, "start": key(start),
            "textGrid": {key(i): t for i, t in text_grid.items()}, "texts": texts}
    digest = hashlib.sha256(json.dumps([title, image_format, dpi, data]).encode())
    for image in images:
        digest.update(hashlib.sha256(image).digest())
    uid = "rl-explorer-" + digest.hexdigest()[:12]
    data["id"] = uid
    data["frames"] = [None if i == grid[start] else u for i, u in enumerate(uris)]
    js = json.dumps(data, separators=(",", ":"))  # ensure_ascii: no raw U+2028 in the script
    js = js.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")  # no "</script>" inside
    controls = [_fill(_CONTROL, id=f"{uid}-{s.name}", label=s.label, name=s.name, max=len(s.values) - 1,
                      index=s.index, value=s.texts[s.index]) for s in specs]
    snippet = _fill(
        _SNIPPET, id=uid, params=",".join(data["names"]),
        labelling="labelledby" if title else "label", label=f"{uid}-title" if title else "Figure explorer",
        css=_Html(_CSS), title=_fill(_TITLE, id=f"{uid}-title", title=title) if title else _Html(""),
        controls=_Html("\n".join(controls)), src=uris[grid[start]],
        alt=data["prefix"] + ", ".join(f"{s.label} = {s.texts[s.index]}" for s in specs),
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
        if s.kind == "number":
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
    heading = [w.HTML(_fill(Template("<b>$title</b>"), title=title))] if title else []
    return w.VBox(heading + list(controls.values()) + [output])


def explore(fn: Callable, *, title: str | None = None, continuous: bool = True, mode: str | None = None,
            image_format: str = "png", dpi: float = DEFAULT_DPI, **params: Any):
    """Let the reader move sliders over ``params`` and see ``fn``'s figure react.

    Args:
        fn: called as ``fn(**values)`` (keywords only) with one value per
            parameter; draws with matplotlib and returns the ``Figure`` (None
            means ``plt.gcf()``) or ``(Figure, text)``, where ``text`` is plain
            text (escaped), a DataFrame (``to_html()``) or an object with
            ``_repr_html_`` (e.g. ``IPython.display.HTML``), shown under the figure.
        title: heading of the explorer (also the start of the images' alt text).
        continuous: live mode only; False recomputes on slider release.
        mode: ``"live"``, ``"static"`` or None: static while the book is built
            (:func:`recsys_lite.config.book_build`), live otherwise.
        image_format: ``"png"`` (default) or ``"svg"`` frames.
        dpi: resolution of PNG frames (default 90).
        **params: 1 to 3 parameters, ``name=values`` or ``name=Param(values, label=..., default=...)``.
            Numbers get a slider, strings a choice; the initial value is the
            middle one unless ``Param(default=...)`` says otherwise. The names
            ``title``, ``continuous``, ``mode``, ``image_format`` and ``dpi`` are taken.

    Returns:
        Live: an ``ipywidgets.VBox`` (title, controls, output) to leave as the
        cell's result. Static: a :class:`StaticExplorer` whose ``_repr_html_``
        is the self-contained snippet described in the module docstring.

    Raises:
        TypeError: ``fn`` not callable or not accepting the names; values that
            are not a sequence of numbers or strings; a bad return from ``fn``;
            ``title`` not a string, ``continuous`` not a bool.
        ValueError: 0 or more than 3 parameters, an empty sequence, NaN/inf
            values, a default not among the values, a bad
            ``mode``/``image_format``/``dpi``, static frames heavier than
            :data:`FRAME_BUDGET_BYTES`, or (``mode=None``) an unreadable
            ``RECSYS_LITE_STATIC_WIDGETS``.
    """
    if not (mode is None or isinstance(mode, str)) or mode not in ("live", "static", None):
        raise ValueError(f"`mode` must be 'live', 'static' or None; got {describe(mode)}.")
    check_str("title", title, allow_none=True)
    check_flag("continuous", continuous)
    specs = _check(fn, params, image_format, dpi)
    if mode == "static" or (mode is None and config.book_build()):
        return _static(fn, specs, title, image_format, dpi)
    return _live(fn, specs, title, continuous, image_format, dpi)
