"""Shared by the tests of steps and pages on the real covers' features pack (features only)."""
import pytest

from cover_model.data.dataset import REAL_FEATURES, load_dataset
from cover_model.data.feature_pack import load_pack


@pytest.fixture(scope="module")
def real_features():
    """The pack as a dataset; skipped in a checkout without it."""
    if load_pack() is None:
        pytest.skip("the real covers' features pack is missing from this checkout")
    return load_dataset(REAL_FEATURES)
