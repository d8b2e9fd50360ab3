"""Job configs: one dataclass per job, shared by CLI flags, sidebar widgets and config.json.

A field is declared with :func:`option`, which keeps its help text, its allowed
values and its range beside it. From that one declaration :func:`add_arguments`
makes the flag, ``ui_widgets.config_widgets`` the widget (a slider's ends are
the range) and :class:`Config` the check, so a range is written once.
:func:`from_dict` builds a config from a mapping, refusing unknown keys and
wrong types. A ``tuple[...]`` field is a list setting: a comma list or a
repeated flag on the command line, a multiselect in the sidebar, a JSON list in
a file.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import typing

_BOUNDS = ("ge", "gt", "le", "lt")          # >=, >, <=, <: pydantic's and annotated-types' names


def option(default, help: str, *, choices=None, ge=None, gt=None, le=None, lt=None, step=None,
           ticks=None):
    """A dataclass field with its help text, allowed values and range as metadata.

    Parameters
    ----------
    default : object
        The paper's value; a tuple for a list setting.
    help : str
        One line for ``--help`` and the widget's tooltip.
    choices : sequence, optional
        The allowed values (of each item, for a list setting).
    ge, gt, le, lt : number, optional
        Bounds (of each item, for a list setting): >=, >, <=, <.
    step : number, optional
        The widget's step; with both bounds, the widget is a slider over the range.
    ticks : sequence, optional
        The values a widget offers when the range is too wide to slide through
        (e.g. the paper's grid sizes); each lies within the range.
    """
    metadata = {"help": help, "choices": choices, "ge": ge, "gt": gt, "le": le, "lt": lt,
                "step": step, "ticks": ticks}
    return dataclasses.field(default=default, metadata=metadata)


def item_type(hint) -> type | None:
    """The item type of a list setting's hint (``tuple[int, ...]`` -> int), else None."""
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0]
    return None


def bounds(field: dataclasses.Field) -> tuple:
    """``(low, high)`` of a field's range, inclusive or not; None where it is open-ended."""
    meta = field.metadata
    low = meta.get("ge") if meta.get("ge") is not None else meta.get("gt")
    high = meta.get("le") if meta.get("le") is not None else meta.get("lt")
    return low, high


def check_value(name: str, value, meta) -> str | None:
    """Why ``value`` breaks the choices or range in ``meta``, or None.

    >>> check_value("lr", -0.1, {"gt": 0, "le": 10})
    'lr must be in (0, 10], got -0.1'
    >>> check_value("batch_size", 0, {"ge": 1, "le": 4096})
    'batch_size must be 1-4096, got 0'
    >>> check_value("space", "cmyk", {"choices": ("rgb", "hsv")})
    "unknown space 'cmyk'; choose from rgb, hsv"
    """
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        return f"unknown {name} {value!r}; choose from {', '.join(map(str, choices))}"
    ge, gt, le, lt = (meta.get(b) for b in _BOUNDS)
    inside = ((ge is None or value >= ge) and (gt is None or value > gt)
              and (le is None or value <= le) and (lt is None or value < lt))
    if inside:
        return None
    return f"{name} must be {_describe_range(ge, gt, le, lt)}, got {value!r}"


def _describe_range(ge, gt, le, lt) -> str:
    """"1-4096" for a closed range of integers, "in (0, 10]" otherwise, ">= 0" with one end."""
    low, high = (ge if ge is not None else gt), (le if le is not None else lt)
    if low is None or high is None:
        return f">= {ge}" if ge is not None else f"> {gt}" if gt is not None else \
            f"<= {le}" if le is not None else f"< {lt}"
    if isinstance(ge, int) and isinstance(le, int):
        return f"{ge}-{le}"
    return f"in {'[' if ge is not None else '('}{low}, {high}{']' if le is not None else ')'}"


def option_problems(cfg) -> list[str]:
    """What breaks each field's choices and range (each item's, for a list setting), in field order."""
    problems, hints = [], _hints(type(cfg))
    for field in dataclasses.fields(cfg):
        value, is_list = getattr(cfg, field.name), item_type(hints[field.name]) is not None
        if is_list and not isinstance(value, tuple):
            # A string would pass item by item, one character at a time.
            problems.append(f"{field.name} is a list setting: give a tuple, got {value!r}")
            continue
        for item in (value if is_list else (value,)):
            problem = check_value(field.name, item, field.metadata)
            if problem:
                problems.append(problem)
                break
    return problems


@functools.cache
def _hints(config_cls) -> dict:
    return typing.get_type_hints(config_cls)


class Config:
    """Base of the job configs: checks the option metadata on creation and names a cached result.

    A subclass (a dataclass) adds the checks that span fields in :meth:`problems`;
    every problem is reported at once, not one per attempt.
    """

    def __post_init__(self):
        problems = option_problems(self) + self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        """Checks across fields, run after the ranges hold for each field alone."""
        return []

    def cache_key(self, *, ignore=()) -> str:
        """A stable hash of the settings, leaving out ``ignore`` (settings a result does not depend on).

        >>> @dataclasses.dataclass(frozen=True)
        ... class C(Config):
        ...     bins: int = option(8, "bins", ge=1)
        ...     shown: str = option("a", "display only")
        >>> C().cache_key(ignore=("shown",)) == C(shown="b").cache_key(ignore=("shown",))
        True
        >>> C().cache_key() == C(bins=4).cache_key()
        False
        """
        values = {k: v for k, v in dataclasses.asdict(self).items() if k not in ignore}
        text = json.dumps({"config": type(self).__name__, **values}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class _ListAction(argparse.Action):
    """``--models ridge,knn --models svm`` -> ("ridge", "knn", "svm"): the first use replaces the default."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        kept = () if current is None or current is self.default else current
        setattr(namespace, self.dest, kept + tuple(values))


def _comma_list(kind: type):
    def parse(text: str) -> list:
        return [kind(part.strip()) for part in text.split(",") if part.strip()]
    parse.__name__ = f"comma-separated {kind.__name__}"     # argparse names it in its errors
    return parse


def add_arguments(parser: argparse.ArgumentParser, config_cls, *, only_given: bool = False) -> None:
    """Add one ``--flag`` per field of ``config_cls`` (``size_px`` -> ``--size-px``).

    A list setting takes a comma list, repeatable (``--models ridge,knn --models svm``);
    ``--flag ''`` empties it. With ``only_given``, flags left out do not appear in the
    parsed namespace, so a preset can fill them (see :func:`given`).
    """
    hints = typing.get_type_hints(config_cls)
    for field in dataclasses.fields(config_cls):
        kind, item = hints[field.name], item_type(hints[field.name])
        flag = "--" + field.name.replace("_", "-")
        help_text = f"{field.metadata.get('help', '')} (default: {_show(field.default)})"
        default = argparse.SUPPRESS if only_given else field.default
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=default, help=help_text)
        elif item is not None:
            choices = field.metadata.get("choices")
            help_text += f"; comma list, repeatable{': ' + ', '.join(choices) if choices else ''}"
            parser.add_argument(flag, type=_comma_list(item), action=_ListAction, default=default,
                                help=help_text, dest=field.name, metavar=field.name.upper())
        else:
            parser.add_argument(flag, type=kind, default=default, help=help_text,
                                choices=field.metadata.get("choices"), dest=field.name)


def _show(default) -> str:
    return ",".join(map(str, default)) if isinstance(default, tuple) else str(default)


def given(config_cls, args: argparse.Namespace) -> dict:
    """The fields of ``config_cls`` present in ``args`` (flags the user gave)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(config_cls) if hasattr(args, f.name)}


def from_args(config_cls, args: argparse.Namespace):
    """Build ``config_cls`` from the flags :func:`add_arguments` added."""
    return config_cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config_cls)})


def from_dict(config_cls, values: dict):
    """Build ``config_cls`` from a mapping; an unknown key or a wrong type is an error.

    A list setting takes a list or a tuple (JSON has only lists) and is stored as a tuple.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class C:
    ...     size_px: int = 32
    ...     sizes: tuple[int, ...] = ()
    >>> from_dict(C, {"size_px": 70, "sizes": [8, 16]})
    C(size_px=70, sizes=(8, 16))
    >>> from_dict(C, {"size": 70})
    Traceback (most recent call last):
    ...
    ValueError: unknown setting 'size' for C; known: size_px, sizes
    """
    hints = typing.get_type_hints(config_cls)
    known = [f.name for f in dataclasses.fields(config_cls)]
    checked = {}
    for key, value in values.items():
        if key not in hints:
            raise ValueError(f"unknown setting {key!r} for {config_cls.__name__}; known: {', '.join(known)}")
        item = item_type(hints[key])
        if item is None:
            checked[key] = _checked(key, value, hints[key])
        elif isinstance(value, (list, tuple)):
            checked[key] = tuple(_checked(key, v, item) for v in value)
        else:
            raise ValueError(f"setting {key!r} must be a list of {item.__name__}, got {value!r}")
    return config_cls(**checked)


def _checked(key: str, value, kind: type):
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise ValueError(f"setting {key!r} must be {kind.__name__}, got {value!r}")
    return value
