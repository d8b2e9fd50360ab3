"""Sidebar widgets made from a job's config dataclass: one widget per field.

A config field declared with :func:`cover_model.config.option` carries its help
text and allowed values; the dataclass default (the paper's value) is the
widget's default. The page builds the config from the returned values with
:func:`cover_model.config.from_dict`, which checks them.
"""
from __future__ import annotations

import dataclasses
import math
import typing

import streamlit as st

# Name parts written as a unit or an acronym in labels (``size_px`` -> "Size (px)").
_UNITS = {"px", "s", "ms", "mb", "gb"}
_ACRONYMS = {"lr": "LR", "cpu": "CPU", "gpu": "GPU", "id": "ID", "url": "URL"}


def config_widgets(config_cls, *, key_prefix: str, fields=None, container=st.sidebar) -> dict:
    """Render a widget for each field of ``config_cls``; return ``{field name: value}``.

    bool -> checkbox, a field with choices -> selectbox, int -> number input
    (step 1), float -> number input, str -> text input. Each widget is keyed
    ``f"{key_prefix}_{name}"`` (so a page or a preset can set it through
    ``st.session_state``), shows the field's help text, and keeps its value
    across page switches.

    Parameters
    ----------
    config_cls : dataclass type
    key_prefix : str
    fields : sequence of str, optional
        The fields to show, in this order (default: all, in declaration order).
    container : Streamlit container, default=st.sidebar
        Where to draw them; an expander works too.
    """
    hints = typing.get_type_hints(config_cls)
    by_name = {f.name: f for f in dataclasses.fields(config_cls)}
    names = list(by_name) if fields is None else list(fields)
    values = {}
    with container:
        for name in names:
            values[name] = _widget(by_name[name], hints[name], key=f"{key_prefix}_{name}")
    return values


def field_label(name: str) -> str:
    """A widget label from a field name: ``batch_size`` -> "Batch size", ``size_px`` -> "Size (px)"."""
    words = name.split("_")
    unit = f" ({words.pop()})" if len(words) > 1 and words[-1] in _UNITS else ""
    words = [_ACRONYMS.get(w, w) for w in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:] + unit


def _widget(field: dataclasses.Field, kind: type, *, key: str):
    label, help_text = field_label(field.name), field.metadata.get("help")
    choices = field.metadata.get("choices")
    # The default only applies before the widget has a value of its own: passing
    # it as well as a value set by a preset makes Streamlit warn.
    fresh = key not in st.session_state
    common = dict(key=key, help=help_text, persist_state="session")
    if kind is bool:
        default = {"value": field.default} if fresh else {}
        return st.checkbox(label, **default, **common)
    if choices:
        index = {"index": list(choices).index(field.default)} if fresh else {}
        return st.selectbox(label, list(choices), **index, **common)
    if kind is int:
        default = {"value": field.default} if fresh else {}
        return int(st.number_input(label, step=1, **default, **common))
    if kind is float:
        default = {"value": float(field.default)} if fresh else {}
        return float(st.number_input(label, step=_float_step(field.default), format="%g",
                                     **default, **common))
    default = {"value": field.default} if fresh else {}
    return st.text_input(label, **default, **common)


def _float_step(default: float) -> float:
    """A step a tenth of the default's order of magnitude (0.01 -> 0.001; 0 -> 0.01)."""
    if not default:
        return 0.01
    return 10.0 ** (math.floor(math.log10(abs(default))) - 1)
