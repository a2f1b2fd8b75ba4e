"""docs/security.md prints the policy table the code enforces."""

from __future__ import annotations

from pathlib import Path

from clameur.tenancy.policy import markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_the_documented_roles_table_is_the_policy_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- policy-table:start -->") + len("<!-- policy-table:start -->")
    end = text.index("<!-- policy-table:end -->")
    assert text[start:end].strip() == markdown_table(), (
        "docs/security.md is out of date: paste `python -c 'from clameur.tenancy.policy "
        "import markdown_table; print(markdown_table())'` between the markers"
    )
