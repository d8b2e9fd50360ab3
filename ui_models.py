"""The pages' models: which to offer (decided by :mod:`cover_model.service.catalogue`),
and the cached predictor and colour references."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

import ui
import ui_first_launch
from cover_model.color import build_reference
from cover_model.data.dataset import Dataset
from cover_model.networks.predict import Predictor
from cover_model.service import catalogue
from cover_model.shipped import load_color_reference


def model_choices(fingerprint: str | None) -> list[Path]:
    """The models Predict offers (:func:`catalogue.model_choices`); where there is none (no
    shipped model in a partial checkout, nothing trained), the paper's CNN is trained on
    first launch (:func:`ui_first_launch.require_a_model`)."""
    return (catalogue.model_choices(ui.visitor_id(), fingerprint)
            or ui_first_launch.require_a_model(ui.visitor_id()))


@st.cache_resource(show_spinner="Loading the model...", max_entries=4)
def load_predictor(run_dir: str) -> Predictor:
    """One shared, read-only Predictor per run folder."""
    return Predictor.from_run(run_dir)


@st.cache_resource(show_spinner=False)
def shipped_color_reference():
    """The real covers' per-genre colour means, shipped with the model (no covers)."""
    return load_color_reference()


@st.cache_resource(show_spinner="Computing the dataset's colour histograms...", max_entries=2,
                   hash_funcs=ui.CONTENT_KEYS)
def color_reference(dataset: Dataset):
    """Per-cover and per-genre histograms of a dataset, for one cover's colour profile."""
    return build_reference(dataset)
