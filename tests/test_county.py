"""The county path's vectorised steps (#17 point 3) against the per-item code they replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radius._errors import InputError
from radius.config import load_categories
from radius.pipeline import _unit_positions
from radius.provision import _required
from radius.standards import list_standards, load_standard


@pytest.mark.parametrize("profile", list_standards())
def test_required_on_arrays_equals_rule_required(profile: str) -> None:
    standard = load_standard(profile, categories=load_categories())
    rng = np.random.default_rng(3)
    counts = np.concatenate([[0.0, 1.0, 2000.0, 1e7], rng.uniform(0, 50_000, 300)])
    kinds = rng.choice(np.array(["new", "old", "other"], dtype=object), len(counts))
    for rule in standard.rules:
        expected = [
            rule.required(float(c), "old" if k == "old" else "new")
            for c, k in zip(counts, kinds, strict=True)
        ]
        np.testing.assert_array_equal(_required(rule, counts, kinds), expected)
    rule = standard.rules[0]
    with pytest.raises(InputError, match=rule.id):
        _required(rule, np.array([3.0, -1.0]), np.array(["new", "new"]))
    with pytest.raises(InputError, match=rule.id):
        _required(rule, np.array([np.nan]), np.array(["old"]))


def test_unit_positions_as_a_dict_of_the_ids() -> None:
    ids = pd.Series(["a", "b", "c", "b", "7"])
    assigned = pd.Series(["c", "", "b", "x", "a", "7", "c"], dtype="str")
    position = {d: k for k, d in enumerate(ids.astype(str))}
    expected = [position.get(d, -1) for d in assigned]
    got = _unit_positions(ids, assigned)
    assert got.dtype == np.int64
    assert got.tolist() == expected == [2, -1, 3, -1, 0, 4, 2]
    assert _unit_positions(pd.Series([1, 2]), pd.Series([], dtype="str")).tolist() == []
    assert _unit_positions(pd.Series([1, 2]), pd.Series(["2", "1"])).tolist() == [1, 0]
