"""The reconciler's rules, pure: no Redis, no sockets."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from live.domain.ledger.recount import recount
from live.domain.reconcile import Inputs, build_rules, preset, reconcile
from live.domain.reconcile.exact import Quad, display
from live.domain.reconcile.rules import RuleSet, rules_hash

F = Fraction


def places(result: object) -> dict[str, int]:
    return {r.contestant: r.place for r in result.rows}  # type: ignore[attr-defined]


def rules(**data: object) -> RuleSet:
    return build_rules(dict(data))


# --- exact numbers -------------------------------------------------------------------------


def test_surd_comparison_is_exact_where_floats_are_not() -> None:
    # 1 + 1e-30·√2 > 1, which a float cannot see
    tiny = Quad(1, F(1, 10**30), 2)
    assert tiny > 1
    assert Quad(0, 1, 2) < F(141421356237309505, 10**17)  # √2 < 1.41421356237309505
    assert Quad(0, 1, 2) > F(141421356237309504, 10**17)
    assert Quad(3, -2, 2) > 0  # 3 − 2√2 ≈ 0.17
    assert Quad(0, 1, 4) == 2  # a rational root folds in


def test_display_rounds_half_away_from_zero_only_at_the_end() -> None:
    assert display(F(1, 8), 2) == "0.13"
    assert display(F(-1, 8), 2) == "-0.13"
    assert display(F(2, 3), 2) == "0.67"
    assert display(Quad(0, 1, 2), 4) == "1.4142"


# --- expert side -----------------------------------------------------------------------------


def test_trimmed_mean_drops_k_highest_and_k_lowest_by_count_and_says_which() -> None:
    marks = {"a": {"j1": F(90), "j2": F(10), "j3": F(70), "j4": F(80), "j5": F(75)}}
    result = reconcile(
        rules(
            expert={"method": "trimmed_mean", "trim": 1},
            combine={"expert_weight": 1, "audience_weight": 0},
        ),
        Inputs(order=("a",), votes={}, marks=marks),
    )
    row = result.rows[0]
    assert row.expert == F(75, 100)  # (70 + 75 + 80) / 3 on 0..1
    assert sorted(row.breakdown["expert"]["dropped"]) == ["j1", "j2"]
    assert row.breakdown["expert"]["used"] == 3


def test_trimmed_mean_trims_less_when_recusal_leaves_too_few_sheets() -> None:
    marks = {"a": {"j1": F(90), "j2": F(10), "j3": F(70)}}
    result = reconcile(
        rules(
            expert={"method": "trimmed_mean", "trim": 2},
            combine={"expert_weight": 1, "audience_weight": 0},
        ),
        Inputs(order=("a",), votes={}, marks=marks),
    )
    assert result.rows[0].expert == F(70, 100)
    assert result.rows[0].breakdown["expert"]["used"] == 1


def test_median_of_an_even_panel_is_the_mean_of_the_middle_two() -> None:
    marks = {"a": {"j1": F(60), "j2": F(70), "j3": F(81), "j4": F(99)}}
    result = reconcile(
        rules(expert={"method": "median"}, combine={"expert_weight": 1, "audience_weight": 0}),
        Inputs(order=("a",), votes={}, marks=marks),
    )
    assert result.rows[0].expert == F(151, 200)


def test_recusal_is_neutral_the_mean_is_over_the_judges_who_marked() -> None:
    marks = {
        "a": {"j1": F(80), "j2": F(80), "j3": F(0)},
        "b": {"j1": F(70), "j2": F(70), "j3": F(70)},
    }
    inputs = Inputs(
        order=("a", "b"),
        votes={},
        marks=marks,
        judges=("j1", "j2", "j3"),
        recused={"a": frozenset({"j3"})},
    )
    result = reconcile(rules(combine={"expert_weight": 1, "audience_weight": 0}), inputs)
    assert places(result) == {"a": 1, "b": 2}
    assert result.rows[0].breakdown["recused"] == ["j3"]


def test_rank_points_give_each_judges_ranking_points() -> None:
    marks = {"a": {"j1": F(90), "j2": F(50)}, "b": {"j1": F(80), "j2": F(60)}}
    result = reconcile(
        rules(
            expert={"method": "rank_points", "points": [3, 1]},
            combine={"expert_weight": 1, "audience_weight": 0},
        ),
        Inputs(order=("a", "b"), votes={}, marks=marks),
    )
    assert {r.contestant: r.expert for r in result.rows} == {"a": F(2, 3), "b": F(2, 3)}
    assert [r.decided_by for r in result.rows] == ["total", "countback"]  # 90 beats 80


def test_exp_rank_weighs_a_first_place_more_than_linear_points_do() -> None:
    # a: ranks 1, 3, 3 ; c: ranks 3, 2, 2. Linear points 12-10-8 tie them (28 each);
    # e^0 + 2e^-0.38 = 2.368 beats e^-0.38 + 2e^-0.19 = 2.338
    marks = {
        "a": {"j1": F(99), "j2": F(1), "j3": F(1)},
        "b": {"j1": F(98), "j2": F(99), "j3": F(99)},
        "c": {"j1": F(97), "j2": F(50), "j3": F(50)},
    }
    result = reconcile(
        rules(expert={"method": "exp_rank"}, combine={"expert_weight": 1, "audience_weight": 0}),
        Inputs(order=("a", "b", "c"), votes={}, marks=marks),
    )
    assert places(result) == {"b": 1, "a": 2, "c": 3}
    assert [r.breakdown["expert"]["panel_place"] for r in result.rows] == [1, 2, 3]
    linear = reconcile(
        rules(
            expert={"method": "rank_points", "points": [12, 10, 8]},
            combine={"expert_weight": 1, "audience_weight": 0},
            tiebreak=[],
        ),
        Inputs(order=("a", "b", "c"), votes={}, marks=marks),
    )
    assert places(linear) == {"b": 1, "a": 2, "c": 2}


# --- audience side ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("share", {"a": F(1, 2), "b": F(3, 10), "c": F(1, 5)}),
        ("max_scaled", {"a": F(1), "b": F(3, 5), "c": F(2, 5)}),
        ("rank_points", {"a": F(1), "b": F(10, 12), "c": F(8, 12)}),
    ],
)
def test_audience_normalisations(method: str, expected: dict[str, Fraction]) -> None:
    result = reconcile(
        rules(audience={"method": method}, combine={"expert_weight": 0, "audience_weight": 1}),
        Inputs(order=("a", "b", "c"), votes={"a": 50, "b": 30, "c": 20}),
    )
    assert {r.contestant: r.audience for r in result.rows} == expected


def test_zscore_is_exact_with_a_square_root() -> None:
    result = reconcile(
        rules(audience={"method": "zscore"}, combine={"expert_weight": 0, "audience_weight": 1}),
        Inputs(order=("a", "b", "c"), votes={"a": 3, "b": 1, "c": 2}),
    )
    z = {r.contestant: r.audience for r in result.rows}
    # mean 2, variance 2/3: z = ±1/√(2/3) = ±√(3/2)
    assert z["a"] == Quad(0, F(3, 2), F(2, 3)) and z["c"] == 0
    assert display(z["a"], 4) == "1.2247"
    assert places(result) == {"a": 1, "c": 2, "b": 3}


# --- combination, tie-breaks ----------------------------------------------------------------


def test_weighted_60_40_on_one_scale_with_effective_weights() -> None:
    inputs = Inputs(
        order=("a", "b"), votes={"a": 30, "b": 70}, marks={"a": {"j": F(90)}, "b": {"j": F(60)}}
    )
    result = reconcile(preset("weighted"), inputs)
    totals = {r.contestant: r.total for r in result.rows}
    assert totals["a"] == F(6, 10) * F(9, 10) + F(4, 10) * F(3, 10)  # 0.66
    assert totals["b"] == F(6, 10) * F(6, 10) + F(4, 10) * F(7, 10)  # 0.64
    assert result.number(totals["a"]) == "66.00"
    assert places(result) == {"a": 1, "b": 2}
    eff = result.effective_weights
    assert eff is not None
    # the sides spread 0.15 and 0.2: 60·0.15 / (60·0.15 + 40·0.2) = 9/17
    assert eff == {"expert": "0.5294", "audience": "0.4706"}


def test_tiebreak_chain_then_a_declared_tie_never_a_coin_flip() -> None:
    marks = {"a": {"j": F(80)}, "b": {"j": F(80)}, "c": {"j": F(80)}}
    inputs = Inputs(order=("a", "b", "c"), votes={"a": 5, "b": 9, "c": 5}, marks=marks)
    r1 = reconcile(
        rules(
            combine={"expert_weight": 1, "audience_weight": 0}, tiebreak=["audience", "countback"]
        ),
        inputs,
    )
    assert [(r.contestant, r.place, r.decided_by) for r in r1.rows] == [
        ("b", 1, "total"),
        ("a", 2, "audience"),
        ("c", 2, "tie"),
    ]


def test_countback_prefers_the_better_top_mark() -> None:
    marks = {"a": {"j1": F(70), "j2": F(90)}, "b": {"j1": F(85), "j2": F(75)}}
    result = reconcile(
        rules(combine={"expert_weight": 1, "audience_weight": 0}, tiebreak=["countback"]),
        Inputs(order=("b", "a"), votes={}, marks=marks),
    )
    assert [(r.contestant, r.decided_by) for r in result.rows] == [
        ("a", "total"),
        ("b", "countback"),
    ]


# --- staged selection ------------------------------------------------------------------------


def _gate_inputs(yes: int, seated: int) -> Inputs:
    judges = tuple(f"j{i}" for i in range(seated))
    return Inputs(
        order=("a",),
        votes={"a": 1},
        marks={"a": {"j0": F(50)}},
        judges=judges,
        approvals={"a": {j: i < yes for i, j in enumerate(judges)}},
    )


@given(st.integers(min_value=1, max_value=30))
def test_gate_at_exactly_two_thirds_passes_inclusive_fails_strict(k: int) -> None:
    inputs = _gate_inputs(2 * k, 3 * k)
    gate = {"kind": "gate", "fraction": "2/3", "denominator": "seated"}
    inclusive = reconcile(rules(stages=[{**gate, "inclusive": True}]), inputs)
    strict = reconcile(rules(stages=[{**gate, "inclusive": False}]), inputs)
    assert inclusive.rows[0].reached == 1
    assert strict.rows[0].reached == 0
    assert strict.rows[0].breakdown["gates"][0]["passed"] is False


def test_smart_craftsman_pipeline_gate_top_votes_top_experts_and_awards() -> None:
    n = 60
    order = tuple(f"c{i:02}" for i in range(n))
    judges = ("j1", "j2", "j3")
    votes = {c: 1000 - i for i, c in enumerate(order)}  # c00 has most votes
    marks = {c: {j: F(i) for j in judges} for i, c in enumerate(order)}  # c59 best marks
    approvals = {
        c: {j: (i % 10 != 0 or j != "j1") and i != 5 for j in judges} for i, c in enumerate(order)
    }
    approvals["c05"] = {"j1": True, "j2": False, "j3": False}  # 1/3: fails the gate
    result = reconcile(
        preset("smart-craftsman"),
        Inputs(order=order, votes=votes, marks=marks, judges=judges, approvals=approvals),
    )
    by = {r.contestant: r for r in result.rows}
    assert by["c05"].reached == 0 and by["c05"].award is None
    top40 = [c for c in order if c != "c05"][:40]
    assert {c for c, r in by.items() if r.reached >= 2} == set(top40)
    finalists = sorted(top40, key=lambda c: -int(c[1:]))[:12]
    assert {c for c, r in by.items() if r.reached == 3} == set(finalists)
    awards = [r.award for r in result.rows]
    assert awards[:10] == ["智慧工匠"] * 10 and awards[10:20] == ["提名奖"] * 10
    assert all(a is None for a in awards[20:])
    assert {r.contestant for r in result.rows[:12]} == set(finalists)


def test_ties_at_a_cut_extend_or_go_to_the_tiebreak_chain() -> None:
    order = ("a", "b", "c")
    inputs = Inputs(
        order=order,
        votes={"a": 9, "b": 5, "c": 5},
        marks={"a": {"j": F(1)}, "b": {"j": F(2)}, "c": {"j": F(3)}},
    )
    extend = reconcile(rules(stages=[{"kind": "top", "by": "audience", "n": 2}]), inputs)
    assert sum(r.reached for r in extend.rows) == 3
    chain = reconcile(
        rules(
            stages=[{"kind": "top", "by": "audience", "n": 2, "ties": "tiebreak"}],
            tiebreak=["expert"],
        ),
        inputs,
    )
    assert {r.contestant for r in chain.rows if r.reached} == {"a", "c"}


# --- invariants ------------------------------------------------------------------------------

contestant_ids = st.lists(st.sampled_from("abcdefgh"), min_size=2, max_size=8, unique=True)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Inputs, RuleSet]:
    order = tuple(draw(contestant_ids))
    judges = ("j1", "j2", "j3")
    votes = {c: draw(st.integers(0, 20)) for c in order}
    marks = {
        c: {j: F(draw(st.integers(0, 10))) for j in judges if draw(st.booleans())} for c in order
    }
    approvals = {c: {j: draw(st.booleans()) for j in judges} for c in order}
    rule = build_rules(
        {
            "expert": {
                "method": draw(
                    st.sampled_from(["mean", "median", "trimmed_mean", "rank_points", "exp_rank"])
                ),
                "trim": 1,
            },
            "audience": {
                "method": draw(st.sampled_from(["share", "max_scaled", "rank_points", "zscore"]))
            },
            "combine": {
                "expert_weight": draw(st.integers(0, 3)),
                "audience_weight": draw(st.integers(1, 3)),
            },
            "stages": draw(
                st.sampled_from(
                    [[], [{"kind": "gate"}], [{"kind": "top", "by": "audience", "n": 2}]]
                )
            ),
            "tiebreak": draw(st.permutations(["audience", "expert", "countback"])),
        }
    )
    inputs = Inputs(
        order=order, votes=votes, marks=marks, judges=judges, approvals=approvals, max_total=F(10)
    )
    return inputs, rule


def _shuffled(inputs: Inputs, perm: list[int]) -> Inputs:
    keys = list(inputs.votes)
    return Inputs(
        order=inputs.order,  # the running order is a rule input, not an input order
        votes={keys[i]: inputs.votes[keys[i]] for i in perm},
        marks={k: dict(reversed(list(v.items()))) for k, v in reversed(list(inputs.marks.items()))},
        judges=tuple(reversed(inputs.judges)),
        approvals=dict(reversed(list(inputs.approvals.items()))),
        max_total=inputs.max_total,
    )


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.randoms())
def test_ranking_does_not_depend_on_input_order(
    scenario: tuple[Inputs, RuleSet], rnd: object
) -> None:
    inputs, rule = scenario
    perm = list(range(len(inputs.votes)))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    a = reconcile(rule, inputs).to_json()
    b = reconcile(rule, _shuffled(inputs, perm)).to_json()
    assert a["rows"] == b["rows"]


def _vote(vid: str, cat: str, c: str) -> dict[str, str]:
    return {"k": "vote", "st": "accepted", "vid": vid, "cat": cat, "c": c}


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.sampled_from("abcdefgh"))
def test_adding_a_vote_and_voiding_it_leaves_the_result_unchanged(
    scenario: tuple[Inputs, RuleSet], extra: str
) -> None:
    inputs, rule = scenario
    target = extra if extra in inputs.order else inputs.order[0]
    ledger = [_vote(f"v{c}{i}", "cat", c) for c in inputs.order for i in range(inputs.votes[c])]
    before = recount(ledger).tally_dict().get("cat", {})
    after = recount(
        [
            *ledger,
            _vote("extra", "cat", target),
            {"k": "void", "vid": "extra"},
            {"k": "void", "vid": "extra"},
        ]
    )
    assert after.tally_dict().get("cat", {}) == before
    base = Inputs(
        order=inputs.order,
        votes=before,
        marks=inputs.marks,
        judges=inputs.judges,
        approvals=inputs.approvals,
        max_total=inputs.max_total,
    )
    voided = Inputs(
        order=inputs.order,
        votes=after.tally_dict().get("cat", {}),
        marks=inputs.marks,
        judges=inputs.judges,
        approvals=inputs.approvals,
        max_total=inputs.max_total,
    )
    assert reconcile(rule, base).to_json() == reconcile(rule, voided).to_json()


def test_restore_brings_back_exactly_what_was_voided() -> None:
    ledger = [_vote("v1", "cat", "a"), _vote("v2", "cat", "a"), {"k": "void", "vid": "v1"}]
    assert recount(ledger).tally_dict() == {"cat": {"a": 1}}
    ledger += [{"k": "restore", "vid": "v1"}, {"k": "restore", "vid": "v1"}]
    assert recount(ledger).tally_dict() == {"cat": {"a": 2}}


def test_the_rules_hash_names_the_rule_set() -> None:
    assert rules_hash(preset("weighted")) == rules_hash(build_rules({"preset": "weighted"}))
    assert rules_hash(preset("weighted")) != rules_hash(
        build_rules({"preset": "weighted", "combine": {"expert_weight": 50}})
    )


def test_unknown_preset_and_bad_fraction_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        build_rules({"preset": "nope"})
    with pytest.raises(ValueError, match="fraction"):
        build_rules({"stages": [{"kind": "gate", "fraction": "two thirds"}]})
