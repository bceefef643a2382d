"""The models on hand-built paths (no ClickHouse), each against tests/attribution/reference.py:
rule models per conversion, Shapley by coalitions and by permutations, Markov by hand, by
simulation and by the P(conversion) = conversions / paths invariant."""

from __future__ import annotations

import random

import pytest

from collector.attribution import markov as markov_module
from collector.attribution.markov import TooManyStates, build_chain, markov, removal_effects
from collector.attribution.models import RULE_MODELS
from collector.attribution.paths import PathData, from_lists
from collector.attribution.report import compute, top_paths
from collector.attribution.request import MODELS
from tests.attribution.reference import (
    Conv,
    markov_simulated,
    rule_credits,
    shapley_coalitions,
    shapley_rate_permutations,
)

CHANNELS = ["Direct", "Email", "Organic Search", "Paid Search", "Referral"]


def path_data(convs: list[Conv], nulls: list[list[str]]) -> PathData:
    """Distinct paths with their counts, as the ClickHouse query hands them over."""
    groups: dict[tuple[str, ...], list[float]] = {}
    for cv in convs:
        g = groups.setdefault(tuple(cv.path), [0, 0.0, 0])
        g[0] += 1
        g[1] += cv.value
    for p in nulls:
        groups.setdefault(tuple(p), [0, 0.0, 0])[2] += 1
    keys = list(groups)
    return from_lists([list(k) for k in keys], [groups[k][0] for k in keys], [groups[k][1] for k in keys],
                      [groups[k][2] for k in keys], [[] for _ in keys], [[] for _ in keys])


def random_data(seed: int, n: int = 300, channels: list[str] = CHANNELS,
                max_len: int = 5) -> tuple[list[Conv], list[list[str]]]:
    rng = random.Random(seed)
    lift = {c: 0.05 + 0.1 * i for i, c in enumerate(channels)}
    convs, nulls = [], []
    for _ in range(n):
        path = [rng.choice(channels) for _ in range(rng.randint(1, max_len))]
        if rng.random() < min(0.9, sum(lift[c] for c in set(path))):
            convs.append(Conv([(c, float(i)) for i, c in enumerate(path)], 10.0, float(rng.randint(1, 100))))
        else:
            nulls.append(path)
    return convs, nulls


def as_dict(pd: PathData, credit: tuple) -> dict[str, list[float]]:
    conv, val = credit
    return {ch: [float(conv[i]), float(val[i])] for i, ch in enumerate(pd.channels) if conv[i] or val[i]}


def assert_credits(got: dict[str, list[float]], want: dict[str, list[float]], rel: float = 1e-9,
                   abs_: float = 1e-9) -> None:
    keys = {k for k, v in got.items() if abs(v[0]) > abs_ or abs(v[1]) > abs_} | set(want)
    for k in keys:
        assert got.get(k, [0.0, 0.0]) == pytest.approx(want.get(k, [0.0, 0.0]), rel=rel, abs=abs_), k


@pytest.mark.parametrize("model", ["first_touch", "last_touch", "last_non_direct", "linear", "position_based"])
def test_rule_models_match_per_conversion_reference(model):
    convs, nulls = random_data(1)
    pd = path_data(convs, nulls)
    assert_credits(as_dict(pd, RULE_MODELS[model](pd)), rule_credits(convs, model))


def test_rule_models_by_hand():
    convs = [Conv([("Email", 0), ("Direct", 1), ("Paid Search", 2), ("Direct", 3)], 4, 100.0),
             Conv([("Direct", 0)], 1, 10.0)]
    pd = path_data(convs, [["Referral"]])
    got = {m: as_dict(pd, RULE_MODELS[m](pd)) for m in RULE_MODELS if m != "time_decay"}
    assert got["first_touch"] == {"Email": [1, 100], "Direct": [1, 10]}
    assert got["last_touch"] == {"Direct": [2, 110]}
    assert got["last_non_direct"] == {"Paid Search": [1, 100], "Direct": [1, 10]}
    assert_credits(got["linear"], {"Email": [0.25, 25], "Direct": [1.5, 60], "Paid Search": [0.25, 25]})
    # 4 touches: 40 % first, 40 % last, 10 % each middle touch.
    assert_credits(got["position_based"], {"Email": [0.4, 40], "Direct": [1.5, 60], "Paid Search": [0.1, 10]})
    # distinct channels {Email, Direct, Paid Search}: a third each.
    assert_credits(got["shapley"], {"Email": [1 / 3, 100 / 3], "Direct": [4 / 3, 100 / 3 + 10],
                                    "Paid Search": [1 / 3, 100 / 3]})


def test_position_based_two_touches_split_evenly():
    pd = path_data([Conv([("Email", 0), ("Referral", 1)], 2, 8.0)], [])
    assert as_dict(pd, RULE_MODELS["position_based"](pd)) == {"Email": [0.5, 4.0], "Referral": [0.5, 4.0]}


def test_shapley_equals_its_coalition_definition():
    convs, nulls = random_data(2, n=150)
    pd = path_data(convs, nulls)
    assert_credits(as_dict(pd, RULE_MODELS["shapley"](pd)), shapley_coalitions(convs), rel=1e-9)


def test_shapley_rate_matches_permutation_shapley():
    convs, nulls = random_data(3, n=400, max_len=4)
    pd = path_data(convs, nulls)
    (conv, val), info = compute_shapley_rate(pd)
    assert_credits(as_dict(pd, (conv, val)), shapley_rate_permutations(convs, nulls), rel=1e-9)
    assert not info


def compute_shapley_rate(pd: PathData):
    from collector.attribution.shapley import shapley_rate

    return shapley_rate(pd)


def test_shapley_rate_by_hand():
    # Paths with set {A}: 1 of 2 convert (rate 1/2); {B}: 0 of 1; {A, B}: 1 of 1 (rate 1).
    convs = [Conv([("A", 0)], 1, 10.0), Conv([("A", 0), ("B", 1)], 2, 30.0)]
    pd = path_data(convs, [["A"], ["B"]])
    (conv, val), _ = compute_shapley_rate(pd)
    # {A}: A alone gets it all.  {A, B}: phi_A = (1/2 (v(A) - 0) + 1/2 (v(AB) - v(B))) = 3/4,
    # phi_B = 1/2 (0 - 0) + 1/2 (1 - 1/2) = 1/4 -> shares 3/4, 1/4 of 1 conversion, value 30.
    assert_credits(as_dict(pd, (conv, val)), {"A": [1.75, 32.5], "B": [0.25, 7.5]})


def test_shapley_rate_clips_negative_contributions():
    # {A}: 2/2 convert; {A, B}: 1 of 2.  phi_B = 1/2 (0 - 0) + 1/2 (1/2 - 1) = -1/4 -> 0.
    convs = [Conv([("A", 0)], 1), Conv([("A", 0)], 1), Conv([("A", 0), ("B", 1)], 2, 5.0)]
    pd = path_data(convs, [["B", "A"]])
    (conv, val), _ = compute_shapley_rate(pd)
    assert_credits(as_dict(pd, (conv, val)), {"A": [3.0, 5.0]})


def test_shapley_rate_over_15_channels_falls_back_to_equal_shares():
    many = [f"c{i:02d}" for i in range(16)]
    convs = [Conv([(c, float(i)) for i, c in enumerate(many)], 20, 16.0), Conv([("c00", 0)], 1, 1.0)]
    pd = path_data(convs, [])
    (conv, val), info = compute_shapley_rate(pd)
    got = as_dict(pd, (conv, val))
    assert got["c05"] == pytest.approx([1 / 16, 1.0])
    assert got["c00"] == pytest.approx([1 + 1 / 16, 2.0])
    assert "15" in str(info["note"])


def test_markov_by_hand():
    # start->A 2, start->B 1; A->B 1, A->null 1; B->conv 2: P(conv) = 2/3*1/2 + 1/3 = 2/3.
    # Without A: 1/3 (RE 1/2); without B: 0 (RE 1).  Credits 2 * (1/2, 1) / 1.5.
    # Values: both conversions end in B, mean 45; E = 2/3*45 = 30; lost A 15, lost B 30.
    convs = [Conv([("A", 0), ("B", 1)], 2, 30.0), Conv([("B", 0)], 1, 60.0)]
    pd = path_data(convs, [["A"]])
    (conv, val), info = markov(pd, 1)
    assert info["conversion_probability"] == pytest.approx(2 / 3, abs=1e-12)
    assert info["removal_effects"] == pytest.approx({"A": 0.5, "B": 1.0}, abs=1e-12)
    assert_credits(as_dict(pd, (conv, val)), {"A": [2 / 3, 30.0], "B": [4 / 3, 60.0]}, abs_=1e-12)


def test_markov_collapses_repeats():
    a = path_data([Conv([("A", 0), ("A", 1), ("B", 2)], 3, 1.0)], [["A", "A"]])
    b = path_data([Conv([("A", 0), ("B", 2)], 3, 1.0)], [["A"]])
    assert_credits(as_dict(a, markov(a, 1)[0]), as_dict(b, markov(b, 1)[0]))


@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_probability_equals_observed_rate(order):
    convs, nulls = random_data(4 + order, n=500)
    pd = path_data(convs, nulls)
    _, _, p = removal_effects(pd, order)
    assert p == pytest.approx(len(convs) / (len(convs) + len(nulls)), abs=1e-9)


@pytest.mark.parametrize("order", [1, 2])
def test_markov_matches_simulation(order):
    convs, nulls = random_data(10 + order, n=200, channels=CHANNELS[:4], max_len=4)
    pd = path_data(convs, nulls)
    (conv, val), info = markov(pd, order)
    p_sim, want = markov_simulated(convs, nulls, order, walks=60_000)
    assert info["conversion_probability"] == pytest.approx(p_sim, abs=0.01)
    got = as_dict(pd, (conv, val))
    for ch, (c, v) in want.items():
        assert got[ch][0] == pytest.approx(c, rel=0.03), ch
        assert got[ch][1] == pytest.approx(v, rel=0.03), ch


def test_markov_exact_and_independent_of_path_order():
    convs, nulls = random_data(20)
    pd1 = path_data(convs, nulls)
    pd2 = path_data(list(reversed(convs)), list(reversed(nulls)))
    assert as_dict(pd1, markov(pd1, 2)[0]) == as_dict(pd2, markov(pd2, 2)[0])


def test_markov_large_chains_iterate_to_the_exact_answer(monkeypatch):
    convs, nulls = random_data(21, n=800)
    pd = path_data(convs, nulls)
    dense, info = markov(pd, 2)
    monkeypatch.setattr(markov_module, "DENSE_STATES", 0)  # force the sparse iteration
    sparse, info_sparse = markov(pd, 2)
    assert info_sparse["conversion_probability"] == pytest.approx(len(convs) / (len(convs) + len(nulls)), abs=1e-11)
    assert_credits(as_dict(pd, sparse), as_dict(pd, dense), rel=1e-9)


def test_markov_state_limit_is_an_error(monkeypatch):
    convs, nulls = random_data(5)
    pd = path_data(convs, nulls)
    monkeypatch.setattr(markov_module, "MAX_STATES", 20)
    with pytest.raises(TooManyStates):
        build_chain(pd, 3)


def test_every_model_sums_to_conversions_and_value():
    convs, nulls = random_data(30, n=600)
    pd = path_data(convs, nulls)
    out = compute(pd, tuple(m for m in MODELS if m != "time_decay"), markov_order=2)
    c, v = len(convs), sum(cv.value for cv in convs)
    assert out["conversions"] == c and out["value"] == pytest.approx(v) and out["nulls"] == len(nulls)
    for model, credits in out["models"].items():
        assert sum(x["conversions"] for x in credits.values()) == pytest.approx(c), model
        assert sum(x["value"] for x in credits.values()) == pytest.approx(v), model


def test_paths_sorted_by_conversions_then_nulls():
    convs = [Conv([("A", 0)], 1)] * 3 + [Conv([("B", 0)], 1)] * 3 + [Conv([("C", 0), ("A", 1)], 2)]
    pd = path_data(convs, [["B"], ["B"], ["A"], ["D"], ["D"], ["D"]])
    got = [(p["path"], p["conversions"], p["nulls"]) for p in top_paths(pd, 10)]
    assert got == [(["B"], 3, 2), (["A"], 3, 1), (["C", "A"], 1, 0), (["D"], 0, 3)]
    assert [p["path"] for p in top_paths(pd, 2)] == [["B"], ["A"]]
