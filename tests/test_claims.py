"""The claim protocol: strict types, kinds, and asserting only at the verdict scale."""

import numpy as np
import pytest
from parsimony import claims
from parsimony.claims import Claim, ClaimError, check, failures, summary


def test_claim_fields_and_dict():
    c = Claim("A beats B", np.bool_(True), "0.9 vs 0.8", paper="0.95 vs 0.9", kind="ours")
    assert c.holds is True and c.asserted
    assert c.to_dict() == {"text": "A beats B", "holds": True, "ours": "0.9 vs 0.8",
                           "paper": "0.95 vs 0.9", "kind": "ours", "asserted": True,
                           "note": None}  # fmt: skip


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(holds="False"), TypeError, "holds must be a bool"),
        (dict(holds=1), TypeError, "holds must be a bool"),
        (dict(text=""), TypeError, "text must be a non-empty string"),
        (dict(ours=0.5), TypeError, "ours must be a non-empty string"),
        (dict(kind="mine"), ValueError, "kind must be one of"),
        (dict(expected="yes"), TypeError, "expected must be a bool"),
        (dict(paper=3), TypeError, "paper must be a string or None"),
    ],
)
def test_bad_claims_are_refused(kwargs, error, match):
    args = dict(text="t", holds=True, ours="o") | kwargs
    with pytest.raises(error, match=match):
        Claim(**args)


def test_check_asserts_only_at_the_verdict_scale(monkeypatch, capsys):
    ok = Claim("holds", True, "1")
    bad = Claim("expected but fails", False, "2")
    recorded = Claim("known not to hold", False, "3", expected=False, note="too small")
    monkeypatch.delenv(claims.STAGE_ENV, raising=False)
    check([ok, bad, recorded])  # quick defaults: printed, not asserted
    out = capsys.readouterr().out
    assert "FAILS [paper, asserted] expected but fails | ours: 2" in out
    assert "note: too small" in out
    monkeypatch.setenv(claims.STAGE_ENV, "stage")
    with pytest.raises(ClaimError, match="expected but fails") as info:
        check([ok, bad, recorded])
    assert "known not to hold" not in str(info.value)
    check([ok, recorded])  # nothing expected fails
    with pytest.raises(ClaimError):
        check([bad], verdict=True, echo=False)
    monkeypatch.delenv(claims.STAGE_ENV)
    check([bad], verdict=False, echo=False)


def test_summary_and_failures():
    cs = [Claim("a", True, "1"), Claim("b", False, "2", expected=False),
          Claim("c", True, "3", kind="sanity"), Claim("d", False, "4", kind="ours")]  # fmt: skip
    assert summary(cs) == {"paper": {"holds": 1, "fails": 1}, "sanity": {"holds": 1, "fails": 0},
                           "ours": {"holds": 0, "fails": 1}}  # fmt: skip
    assert [c.text for c in failures(cs)] == ["d"]
    with pytest.raises(TypeError, match="sequence of Claim"):
        summary(Claim("a", True, "1"))
    with pytest.raises(TypeError, match="Claim objects"):
        check(["a"])
