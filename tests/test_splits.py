"""Split invariants: stratification, group-disjointness, determinism, the paper's protocol."""
import numpy as np
import pandas as pd
import pytest

from cover_model.data.dataset import Dataset, DatasetError
from cover_model.data.splits import assign_splits


def table_dataset(n_per_class, groups_per_class=None, seed=0) -> Dataset:
    """A Dataset of fake rows: splitting never opens the files."""
    rng = np.random.default_rng(seed)
    rows = []
    for label, n in enumerate(n_per_class):
        for i in range(n):
            group = f"g{label}-{rng.integers(groups_per_class[label])}" if groups_per_class else ""
            rows.append({"path": f"/x/{label}/{i}.jpg", "genre": f"c{label}", "label": label,
                         "group": group, "split": "", "n_bytes": 100})
    return Dataset(pd.DataFrame(rows), tuple(f"c{i}" for i in range(len(n_per_class))), root="/x")


def per_class_counts(ds):
    return pd.crosstab(ds.items["label"], ds.items["split"])


def test_stratified_split_hits_each_class_target_exactly():
    ds = assign_splits(table_dataset([100, 60, 41, 7, 1]), scheme="stratified",
                       val_frac=0.15, test_frac=0.2, seed=3)
    counts = per_class_counts(ds)
    for label, n in enumerate([100, 60, 41, 7, 1]):
        assert counts.loc[label, "test"] == round(n * 0.2)
        assert counts.loc[label, "val"] == round(n * 0.15)
        assert counts.loc[label].sum() == n


def test_splits_are_deterministic_by_seed():
    ds = table_dataset([50, 50, 30])
    a = assign_splits(ds, scheme="stratified", seed=1).items["split"]
    b = assign_splits(ds, scheme="stratified", seed=1).items["split"]
    c = assign_splits(ds, scheme="stratified", seed=2).items["split"]
    assert a.equals(b) and not a.equals(c)


def test_group_split_never_puts_a_group_in_two_splits_and_stays_near_target():
    ds = assign_splits(table_dataset([300, 200, 150], groups_per_class=[40, 25, 12]),
                       scheme="group", seed=0)
    assert (ds.items.groupby("group")["split"].nunique() == 1).all()
    shares = ds.items["split"].value_counts(normalize=True)
    assert abs(shares["test"] - 0.15) < 0.04 and abs(shares["val"] - 0.15) < 0.04


def test_a_genre_with_three_groups_gets_one_in_every_split():
    ds = assign_splits(table_dataset([60], groups_per_class=[3], seed=5), scheme="group", seed=0)
    assert set(ds.items["split"]) == {"train", "val", "test"}


def test_paper_protocol_gives_a_balanced_test_set():
    ds = assign_splits(table_dataset([990, 980, 970, 150]), scheme="paper",
                       n_test_per_class=100, val_frac=0.0, seed=0)
    counts = per_class_counts(ds)
    assert counts["test"].tolist() == [100, 100, 100, 75]        # at most half of a small genre
    assert "val" not in counts or counts["val"].sum() == 0


def test_auto_prefers_the_manifest_then_groups():
    ds = table_dataset([10, 10])
    ds.items["split"] = ["train", "val", "test", "train"] * 5
    assert assign_splits(ds).items["split"].equals(ds.items["split"])
    grouped = table_dataset([100, 100], groups_per_class=[20, 20])
    out = assign_splits(grouped)
    assert (out.items.groupby("group")["split"].nunique() == 1).all()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"scheme": "bogus"}, ValueError, "unknown split scheme"),
    ({"scheme": "group"}, DatasetError, "no group column"),
    ({"scheme": "manifest"}, DatasetError, "no split column"),
    ({"val_frac": 0.6, "test_frac": 0.5}, ValueError, "sum to less than 1"),
])
def test_bad_split_requests(kwargs, error, match):
    with pytest.raises(error, match=match):
        assign_splits(table_dataset([10, 10]), **kwargs)
