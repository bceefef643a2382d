"""Independent reference implementations of the attribution models, written from the issue's
definitions with plain Python loops (no numpy, nothing shared with collector/attribution):
per-conversion rule models, Shapley values by enumerating coalitions or permutations, and
the Markov model by Monte Carlo simulation of the estimated chain."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from math import factorial


@dataclass
class Conv:
    touches: list[tuple[str, float]]  # (channel, visit start in seconds), in time order
    t: float  # conversion time, seconds
    value: float = 0.0

    @property
    def path(self) -> list[str]:
        return [c for c, _ in self.touches]


def _add(out: dict[str, list[float]], ch: str, w: float, conv: Conv) -> None:
    acc = out.setdefault(ch, [0.0, 0.0])
    acc[0] += w
    acc[1] += w * conv.value


def rule_credits(convs: list[Conv], model: str, half_life_s: float = 7 * 86400) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for cv in convs:
        path = cv.path
        n = len(path)
        if model == "first_touch":
            _add(out, path[0], 1.0, cv)
        elif model == "last_touch":
            _add(out, path[-1], 1.0, cv)
        elif model == "last_non_direct":
            non_direct = [c for c in path if c != "Direct"]
            _add(out, non_direct[-1] if non_direct else path[-1], 1.0, cv)
        elif model == "linear":
            for c in path:
                _add(out, c, 1.0 / n, cv)
        elif model == "position_based":
            for i, c in enumerate(path):
                if n == 1:
                    w = 1.0
                elif n == 2:
                    w = 0.5
                else:
                    w = 0.4 if i in (0, n - 1) else 0.2 / (n - 2)
                _add(out, c, w, cv)
        elif model == "time_decay":
            ws = [2 ** (-(cv.t - t) / half_life_s) for _, t in cv.touches]
            for (c, _), w in zip(cv.touches, ws, strict=True):
                _add(out, c, w / sum(ws), cv)
        else:
            raise ValueError(model)
    return out


def shapley_coalitions(convs: list[Conv]) -> dict[str, list[float]]:
    """Zhao et al.'s simplified Shapley value by its definition: v(S) = conversions (value)
    whose distinct channel set lies within S, Shapley weights over every coalition."""
    channels = sorted({c for cv in convs for c in cv.path})
    n = len(channels)

    def v(s: frozenset[str], idx: int) -> float:
        return sum((1.0 if idx == 0 else cv.value) for cv in convs if set(cv.path) <= s)

    out = {}
    for ch in channels:
        others = [c for c in channels if c != ch]
        tot = [0.0, 0.0]
        for k in range(n):
            for sub in itertools.combinations(others, k):
                s = frozenset(sub)
                w = factorial(k) * factorial(n - k - 1) / factorial(n)
                for idx in (0, 1):
                    tot[idx] += w * (v(s | {ch}, idx) - v(s, idx))
        out[ch] = tot
    return out


def shapley_rate_permutations(convs: list[Conv], nulls: list[list[str]]) -> dict[str, list[float]]:
    """Shapley over each converting set T by averaging marginal contributions over all
    orderings of T, v(S) = conversion rate of paths whose exact channel set is S."""
    conv_n: Counter[frozenset[str]] = Counter(frozenset(cv.path) for cv in convs)
    all_n: Counter[frozenset[str]] = conv_n + Counter(frozenset(p) for p in nulls)

    def v(s: frozenset[str]) -> float:
        return conv_n[s] / all_n[s] if all_n[s] else 0.0

    by_set: dict[frozenset[str], list[Conv]] = defaultdict(list)
    for cv in convs:
        by_set[frozenset(cv.path)].append(cv)
    out: dict[str, list[float]] = {}
    for t, members in by_set.items():
        phi = dict.fromkeys(t, 0.0)
        perms = list(itertools.permutations(sorted(t)))
        for order in perms:
            seen: frozenset[str] = frozenset()
            for c in order:
                phi[c] += (v(seen | {c}) - v(seen)) / len(perms)
                seen = seen | {c}
        clipped = {c: max(x, 0.0) for c, x in phi.items()}
        total = sum(clipped.values())
        for c, x in clipped.items():
            acc = out.setdefault(c, [0.0, 0.0])
            acc[0] += len(members) * x / total
            acc[1] += sum(m.value for m in members) * x / total
    return out


# -- Markov by simulation ------------------------------------------------------------------------
def _states(path: list[str], order: int) -> list[tuple[str, ...]]:
    collapsed = [c for i, c in enumerate(path) if i == 0 or path[i - 1] != c]
    return [tuple(collapsed[max(0, i - order + 1):i + 1]) for i in range(len(collapsed))]


class SimulatedChain:
    """Transition probabilities counted from the paths, then random walks from start."""

    def __init__(self, convs: list[Conv], nulls: list[list[str]], order: int = 1):
        counts: dict[object, Counter] = defaultdict(Counter)
        end_values: dict[tuple[str, ...], list[float]] = defaultdict(list)
        for path, outcome, value in [(cv.path, "conv", cv.value) for cv in convs] + [(p, "null", 0.0) for p in nulls]:
            seq: list[object] = ["start", *_states(path, order), outcome]
            for a, b in itertools.pairwise(seq):
                counts[a][b] += 1
            if outcome == "conv":
                end_values[seq[-2]].append(value)  # type: ignore[index]
        self.next = {s: (list(c), [n / sum(c.values()) for n in c.values()]) for s, c in counts.items()}
        self.mean_value = {s: sum(v) / len(v) for s, v in end_values.items()}

    def walks(self, n: int, rng: random.Random) -> list[tuple[float, float, frozenset[str]]]:
        """n random walks from start: (converted 0/1, value credited, channels visited)."""
        out = []
        for _ in range(n):
            state: object = "start"
            seen: set[str] = set()
            while True:
                targets, probs = self.next[state]
                nxt = rng.choices(targets, probs)[0]
                if nxt == "conv":
                    out.append((1.0, self.mean_value[state], frozenset(seen)))  # type: ignore[index]
                    break
                if nxt == "null":
                    out.append((0.0, 0.0, frozenset(seen)))
                    break
                seen.update(nxt)  # type: ignore[arg-type]
                state = nxt
        return out


def markov_simulated(convs: list[Conv], nulls: list[list[str]], order: int, walks: int,
                     seed: int = 7) -> tuple[float, dict[str, list[float]]]:
    """(P(conversion), credits) from removal effects estimated by simulation.  Removing a
    channel sends every walk that reaches one of its states to null, so the same walks
    estimate every removal: P_c counts the converting walks that never met c."""
    chain = SimulatedChain(convs, nulls, order)
    sample = chain.walks(walks, random.Random(seed))
    p = sum(w[0] for w in sample) / walks
    e = sum(w[1] for w in sample) / walks
    channels = sorted({c for cv in convs for c in cv.path} | {c for n in nulls for c in n})
    re, lost = {}, {}
    for c in channels:
        pc = sum(w[0] for w in sample if c not in w[2]) / walks
        ec = sum(w[1] for w in sample if c not in w[2]) / walks
        re[c] = 1 - pc / p
        lost[c] = e - ec
    total_c, total_v = len(convs), sum(cv.value for cv in convs)
    return p, {c: [total_c * re[c] / sum(re.values()), total_v * lost[c] / sum(lost.values())] for c in channels}
