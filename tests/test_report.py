from parsimony.claims import Claim
from parsimony.io import save_metrics
from parsimony.report import render


def test_render_one_row_per_figure(tmp_path):
    save_metrics(tmp_path / "a", {}, paper="Paper A", figure="Fig 1",
                 claims=[Claim("x | y", True, "0.9", paper="0.95"),
                         Claim("z", False, "0.1", expected=False)])  # fmt: skip
    save_metrics(
        tmp_path / "b", {}, paper="Paper B", figure="Table 2", claims=[Claim("w", True, "1")]
    )
    (tmp_path / ".interactive" / "c").mkdir(parents=True)
    (tmp_path / ".interactive" / "c" / "metrics.json").write_text("{}")
    md = render(tmp_path)
    rows = [line for line in md.splitlines() if line.startswith("| [")]
    assert len(rows) == 3
    assert "Paper A" in rows[0] and "x \\| y" in rows[0] and rows[0].endswith("| yes | yes |")
    assert rows[1].endswith("| **no** | no |")
    assert "2 figure(s)." in md
    assert "- Paper claims: 2 hold, 1 do not hold (of 3)." in md
    assert "- Our checks: 0 hold, 0 do not hold (of 0)." in md


def test_counts_split_paper_and_ours(tmp_path):
    save_metrics(tmp_path / "a", {}, paper="P", figure="F",
                 claims=[Claim("p", False, "1", expected=False, note="too small"),
                         Claim("o", True, "2", kind="ours"),
                         Claim("s", True, "3", kind="sanity")])  # fmt: skip
    md = render(tmp_path)
    assert "- Paper claims: 0 hold, 1 do not hold (of 1)." in md
    assert "- Our checks: 1 hold, 0 do not hold (of 1)." in md
    assert "- Sanity checks: 1 hold, 0 do not hold (of 1)." in md
    assert "*Note: too small*" in md
