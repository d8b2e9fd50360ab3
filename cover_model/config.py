"""Job configs: one dataclass per job, shared by CLI flags, sidebar widgets and config.json.

A field is declared with :func:`option`, which keeps its help text beside it;
:func:`add_arguments` turns the fields into flags and :func:`from_dict` builds
a config from a mapping, refusing unknown keys and wrong types.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing


def option(default, help: str, *, choices=None):
    """A dataclass field with its help text (and allowed values) as metadata."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def add_arguments(parser: argparse.ArgumentParser, config_cls, *, only_given: bool = False) -> None:
    """Add one ``--flag`` per field of ``config_cls`` (``size_px`` -> ``--size-px``).

    With ``only_given``, flags left out do not appear in the parsed namespace, so
    a preset can fill them (see :func:`given`).
    """
    hints = typing.get_type_hints(config_cls)
    for field in dataclasses.fields(config_cls):
        kind = hints[field.name]
        flag = "--" + field.name.replace("_", "-")
        help_text = f"{field.metadata.get('help', '')} (default: {field.default})"
        default = argparse.SUPPRESS if only_given else field.default
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=default, help=help_text)
        else:
            parser.add_argument(flag, type=kind, default=default, help=help_text,
                                choices=field.metadata.get("choices"), dest=field.name)


def given(config_cls, args: argparse.Namespace) -> dict:
    """The fields of ``config_cls`` present in ``args`` (flags the user gave)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(config_cls) if hasattr(args, f.name)}


def from_args(config_cls, args: argparse.Namespace):
    """Build ``config_cls`` from the flags :func:`add_arguments` added."""
    return config_cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config_cls)})


def from_dict(config_cls, values: dict):
    """Build ``config_cls`` from a mapping; an unknown key or a wrong type is an error.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class C:
    ...     size_px: int = 32
    >>> from_dict(C, {"size_px": 70})
    C(size_px=70)
    >>> from_dict(C, {"size": 70})
    Traceback (most recent call last):
    ...
    ValueError: unknown setting 'size' for C; known: size_px
    """
    hints = typing.get_type_hints(config_cls)
    known = [f.name for f in dataclasses.fields(config_cls)]
    for key, value in values.items():
        if key not in hints:
            raise ValueError(f"unknown setting {key!r} for {config_cls.__name__}; known: {', '.join(known)}")
        kind = hints[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise ValueError(f"setting {key!r} must be {kind.__name__}, got {value!r}")
    return config_cls(**values)
