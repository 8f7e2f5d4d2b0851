from parsimony.io import Claim, save_metrics
from parsimony.report import render


def test_render_one_row_per_figure(tmp_path):
    save_metrics(tmp_path / "a", {}, paper="Paper A", figure="Fig 1",
                 claims=[Claim("x | y", True, "0.9", paper="0.95"),
                         Claim("z", False, "0.1", asserted=False)])  # fmt: skip
    save_metrics(
        tmp_path / "b", {}, paper="Paper B", figure="Table 2", claims=[Claim("w", True, "1")]
    )
    (tmp_path / ".interactive" / "c").mkdir(parents=True)
    (tmp_path / ".interactive" / "c" / "metrics.json").write_text("{}")
    md = render(tmp_path)
    rows = [line for line in md.splitlines() if line.startswith("| [")]
    assert len(rows) == 2
    assert "Paper A" in rows[0] and "x \\| y" in rows[0] and "**no** (not asserted)" in rows[0]
    assert "2 of 3 claims hold across 2 figure(s)." in md
