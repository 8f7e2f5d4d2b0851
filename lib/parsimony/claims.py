"""One claim protocol for every notebook: record each claim, assert only at the verdict scale.

A notebook reproduces a figure and checks the paper's claims on the numbers it just
computed. Each check is a :class:`Claim`:

* ``kind="paper"``: a claim of the paper (its card), worded as the paper words it. Its
  wording may never be weaker than the paper's: a weaker variant that does hold can be
  recorded *beside* it as an ``ours`` claim, never instead of it.
* ``kind="ours"``: an extra check of ours (a weaker variant, a comparison the paper does
  not make, a property of our implementation).
* ``kind="sanity"``: a check that the experiment ran as intended (a loss fell, a budget was
  met as measured). A check that holds by construction (a formula compared with itself, a
  projection checked right after projecting) is no claim of any kind: leave it out.

``expected`` says whether the notebook expects the claim to hold at ``params.yaml`` scale.
:func:`check` is the notebook's last cell: it prints every claim in full and, when the
notebook runs as a DVC stage (the verdict scale), raises if a claim expected to hold does
not. At the quick defaults (JupyterLab, nbval in CI) nothing is asserted, so toy-scale noise
never pressures a claim's wording; CI checks instead that the committed results are current.
A claim that does not hold at our scale stays recorded, ``expected=False``, with the reason
in ``note`` and in the notebook.

Examples
--------
>>> c = Claim("CSC is faster than exact SC", holds=False, ours="1.4 s vs 0.4 s",
...           paper="Tremblay et al. 2016: faster for large N and k", expected=False,
...           note="our exact SC uses eigsh without shift-invert")
>>> c.kind, c.holds, c.asserted
('paper', False, False)
>>> summary([c])["paper"]
{'holds': 0, 'fails': 1}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KINDS = ("paper", "ours", "sanity")

#: set by the runner while a notebook runs as a DVC stage (params.yaml scale)
STAGE_ENV = "PARSIMONY_STAGE"


class ClaimError(AssertionError):
    """A claim the notebook expects to hold at the verdict scale does not hold."""


def _check_text(value, name: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        what = "a non-empty string" if required else "a string or None"
        raise TypeError(f"{name} must be {what}, got {value!r}")
    return value


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, got {value!r} ({type(value).__name__})")
    return bool(value)


@dataclass
class Claim:
    """One claim, checked on the numbers a notebook computed.

    Parameters
    ----------
    text : str
        The claim, worded as the paper (or, for ``ours``, we) state it. Never weaker than
        the paper's wording.
    holds : bool
        Whether it holds on our numbers (a Python or NumPy bool; ``"False"`` is refused).
    ours : str
        The numbers it rests on, short and readable (``"m90/s 3 vs 5"``).
    paper : str, optional
        The paper's number or wording where comparable; mark numbers the card has not
        verified with "(unverified)".
    kind : {"paper", "ours", "sanity"}
        See the module docstring.
    expected : bool
        Whether the notebook expects it to hold at ``params.yaml`` scale: :func:`check`
        then asserts it there.
    note : str, optional
        Why a claim does not hold (or what limits it), shown in the report.
    """

    text: str
    holds: bool
    ours: str
    paper: str | None = None
    kind: str = "paper"
    expected: bool = True
    note: str | None = None

    def __post_init__(self):
        self.text = _check_text(self.text, "text", required=True)
        self.holds = _check_bool(self.holds, "holds")
        self.ours = _check_text(self.ours, "ours", required=True)
        self.paper = _check_text(self.paper, "paper", required=False)
        self.note = _check_text(self.note, "note", required=False)
        self.expected = _check_bool(self.expected, "expected")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def asserted(self) -> bool:
        """Whether the stage asserts this claim (it is expected to hold)."""
        return self.expected

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "holds": self.holds,
            "ours": self.ours,
            "paper": self.paper,
            "kind": self.kind,
            "asserted": self.expected,
            "note": self.note,
        }

    def line(self) -> str:
        """One readable line: verdict, kind, whether asserted, the full text, our numbers."""
        verdict = "HOLDS" if self.holds else "FAILS"
        asserted = "asserted" if self.expected else "recorded"
        out = f"{verdict} [{self.kind}, {asserted}] {self.text} | ours: {self.ours}"
        if self.paper:
            out += f" | paper: {self.paper}"
        if self.note:
            out += f" | note: {self.note}"
        return out


def at_verdict_scale() -> bool:
    """True while the notebook runs as a DVC stage, i.e. at ``params.yaml`` scale."""
    return bool(os.environ.get(STAGE_ENV))


def summary(claims: Sequence[Claim]) -> dict:
    """Counts per kind: ``{kind: {"holds": n, "fails": n}}`` (kinds with no claim omitted)."""
    out: dict = {}
    for c in _check_claims(claims):
        counts = out.setdefault(c.kind, {"holds": 0, "fails": 0})
        counts["holds" if c.holds else "fails"] += 1
    return out


def _check_claims(claims) -> list[Claim]:
    if isinstance(claims, Claim) or not isinstance(claims, Sequence):
        raise TypeError(f"claims must be a sequence of Claim, got {type(claims).__name__}")
    for c in claims:
        if not isinstance(c, Claim):
            raise TypeError(f"claims must hold Claim objects, got {type(c).__name__}")
    return list(claims)


def failures(claims: Sequence[Claim]) -> list[Claim]:
    """The claims expected to hold that do not."""
    return [c for c in _check_claims(claims) if c.expected and not c.holds]


def check(claims: Sequence[Claim], *, verdict: bool | None = None, echo: bool = True) -> None:
    """Print every claim and, at the verdict scale, assert those expected to hold.

    Parameters
    ----------
    claims : sequence of Claim
    verdict : bool, optional
        Assert the expected claims. Default: :func:`at_verdict_scale` (under the runner).
    echo : bool
        Print one line per claim (full text).

    Raises
    ------
    ClaimError
        At the verdict scale, naming every expected claim that does not hold.
    """
    claims = _check_claims(claims)
    if echo:
        for c in claims:
            print(c.line())
    verdict = at_verdict_scale() if verdict is None else bool(verdict)
    bad = failures(claims)
    if verdict and bad:
        raise ClaimError(
            "claims expected to hold at params.yaml scale do not:\n"
            + "\n".join(f"- {c.text} (ours: {c.ours})" for c in bad)
        )
