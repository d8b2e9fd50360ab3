"""Sidebar widgets made from a job's config dataclass: one widget per field.

A config field declared with :func:`cover_model.config.option` carries its help
text, allowed values and range; the dataclass default (the paper's value) is the
widget's default and the range is the widget's, so a page never restates one. The page builds the config from the returned values with
:func:`cover_model.config.from_dict`, which checks them.
"""
from __future__ import annotations

import dataclasses
import math
import typing

import streamlit as st

from cover_model import config

# Name parts written as a unit or an acronym in labels (``size_px`` -> "Size (px)").
_UNITS = {"px", "s", "ms", "mb", "gb"}
_ACRONYMS = {"lr": "LR", "cpu": "CPU", "gpu": "GPU", "id": "ID", "url": "URL"}


def config_widgets(config_cls, *, key_prefix: str, fields=None, container=st.sidebar) -> dict:
    """Render a widget for each field of ``config_cls``; return ``{field name: value}``.

    Each widget is the one :func:`config_widget` picks from the field's declaration.

    Parameters
    ----------
    config_cls : dataclass type
    key_prefix : str
    fields : sequence of str, optional
        The fields to show, in this order (default: all, in declaration order).
    container : Streamlit container, default=st.sidebar
        Where to draw them; an expander works too.
    """
    names = [f.name for f in dataclasses.fields(config_cls)] if fields is None else list(fields)
    with container:
        return {name: config_widget(config_cls, name, key_prefix=key_prefix) for name in names}


def widget_key(key_prefix: str, name: str) -> str:
    """The session-state key of a config field's widget."""
    return f"{key_prefix}_{name}"


def session_values(config_cls, *, key_prefix: str) -> dict:
    """``{field name: value}`` of the widgets of ``config_cls`` this session has shown (another
    page reads the settings a page left, without drawing its widgets)."""
    keys = {f.name: widget_key(key_prefix, f.name) for f in dataclasses.fields(config_cls)}
    return {name: st.session_state[key] for name, key in keys.items() if key in st.session_state}


def config_widget(config_cls, name: str, *, key_prefix: str, label: str | None = None,
                  options=None, default=None, one: bool = False, radio: bool = False,
                  more_help: str = "", **kwargs):
    """The widget of one field of ``config_cls``, built from its :func:`~cover_model.config.option`.

    bool -> checkbox; a list setting (tuple) -> multiselect; a field with choices ->
    selectbox; one with ticks -> select slider; a number with both bounds and a step ->
    slider over exactly the range the config's check accepts; other numbers -> number
    input (unbounded: see :func:`_number`); str -> text input.
    The widget is keyed ``f"{key_prefix}_{name}"`` (a page or a preset can set it
    through ``st.session_state``), shows the field's help text and keeps its value
    across page switches.

    Parameters
    ----------
    config_cls : dataclass type
    name : str
        The field.
    key_prefix : str
    label : str, optional
        Default: from the field name (:func:`field_label`).
    options : sequence, optional
        Offer only these of the allowed values (a selectbox or multiselect).
    default : optional
        The first value, when not the field's default.
    one : bool, default=False
        A list setting picked one value at a time (returned as a 1-tuple).
    radio : bool, default=False
        Radio buttons rather than a selectbox.
    more_help : str, default=""
        Added to the field's help text (what the page adds to the setting).
    **kwargs
        Passed to the Streamlit widget (``format_func``, ``disabled``, ``help``...).

    Returns
    -------
    The value, of the field's type.
    """
    field = next(f for f in dataclasses.fields(config_cls) if f.name == name)
    meta, kind = field.metadata, typing.get_type_hints(config_cls)[name]
    key = widget_key(key_prefix, name)
    kwargs = dict(key=key, help=meta.get("help", "") + more_help, persist_state="session") | kwargs
    label = label or field_label(name)
    value = field.default if default is None else default
    # The default only applies before the widget has a value of its own: passing
    # it as well as a value set by a preset makes Streamlit warn.
    fresh = key not in st.session_state
    items = options or meta.get("choices") or meta.get("ticks")
    if config.item_type(kind) is not None:
        if one:
            return (_pick(label, list(items), value[0] if value else None, radio, fresh, kwargs),)
        picked = st.multiselect(label, list(items), **({"default": list(value)} if fresh else {}), **kwargs)
        return tuple(item for item in items if item in picked)     # one order, whatever the clicks
    if kind is bool:
        return st.checkbox(label, **({"value": value} if fresh else {}), **kwargs)
    if options or meta.get("choices"):
        return _pick(label, list(items), value, radio, fresh, kwargs)
    if meta.get("ticks"):
        return st.select_slider(label, list(items), **({"value": value} if fresh else {}), **kwargs)
    if kind in (int, float):
        return _number(label, kind, field, value if fresh else None, kwargs)
    return st.text_input(label, **({"value": value} if fresh else {}), **kwargs)


def _pick(label, options: list, value, radio: bool, fresh: bool, kwargs):
    index = {"index": options.index(value)} if fresh and value in options else {}
    return (st.radio if radio else st.selectbox)(label, options, **index, **kwargs)


def _number(label, kind: type, field: dataclasses.Field, value, kwargs):
    """A slider over the field's range when it has both bounds and a step; else a number input.

    The number input is left unbounded on purpose: Streamlit silently keeps the old value
    when one types outside ``min_value``/``max_value``, while the config's check names the
    problem (the page shows it), every problem at once.
    """
    low, high = config.bounds(field)
    step = field.metadata.get("step")
    first = {} if value is None else {"value": kind(value)}
    if kind is float:
        kwargs = {"format": "%g"} | kwargs
    if low is not None and high is not None and step:
        return kind(st.slider(label, kind(low), kind(high), step=kind(step), **first, **kwargs))
    step = 1 if kind is int else _float_step(field.default)
    return kind(st.number_input(label, step=step, **first, **kwargs))


def checked_config(config_cls, values: dict):
    """``config_cls`` built from the widgets' values, or None after naming every problem.

    A number input is unbounded (see :func:`_number`), so this is where an out-of-range
    value is caught: one error in the page, not a traceback.
    """
    try:
        return config.from_dict(config_cls, values)
    except ValueError as exc:
        st.error(f"Check the settings in the sidebar: {exc}", icon=":material/tune:")
        return None


def field_label(name: str) -> str:
    """A widget label from a field name: ``batch_size`` -> "Batch size", ``size_px`` -> "Size (px)"."""
    words = name.split("_")
    unit = f" ({words.pop()})" if len(words) > 1 and words[-1] in _UNITS else ""
    words = [_ACRONYMS.get(w, w) for w in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:] + unit


def _float_step(default: float) -> float:
    """A step a tenth of the default's order of magnitude (0.01 -> 0.001; 0 -> 0.01)."""
    if not default:
        return 0.01
    return 10.0 ** (math.floor(math.log10(abs(default))) - 1)
