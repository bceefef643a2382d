"""identity.rules (alias components) against the independent model, and person id spelling."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from identity.rules import Edge, canonical_map, split_person_id
from tests.identity import model

IDS = st.sampled_from(["a", "b", "c", "d", "e", "f"])


@given(st.lists(st.tuples(IDS, IDS, st.integers(0, 5)), max_size=12), st.randoms())
def test_canonical_map_matches_the_model_in_any_order(edges, rnd):
    messages = [{"id": str(i), "type": "alias", "prev": p, "user": u, "t": t, "source": "server"}
                for i, (p, u, t) in enumerate(edges)]
    shuffled = list(edges)
    rnd.shuffle(shuffled)
    got = canonical_map(Edge(p, u, t) for p, u, t in shuffled)
    assert got == model.canonical(messages)


def test_the_latest_alias_names_the_person():
    edges = [Edge("a", "b", 1), Edge("b", "c", 3), Edge("a", "d", 2), Edge("x", "y", 1)]
    assert canonical_map(edges) == {"a": "c", "b": "c", "c": "c", "d": "c", "x": "y", "y": "y"}
    assert canonical_map([Edge("a", "a", 1)]) == {}


def test_person_id_spelling():
    assert split_person_id("u:sarah") == ("user", "sarah")
    assert split_person_id("a:abc") == ("anonymous", "abc")
    assert split_person_id("sarah") == ("any", "sarah")
    assert split_person_id("u:") == ("any", "u:")
