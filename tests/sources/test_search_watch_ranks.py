"""Property test of the search watch's day-by-day comparison: whatever the sequence of
first pages, a mention is made exactly when a URL is on a day's page and was not on the
previous poll's, and the stored ranks are the last page's."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from clameur.sources.base import Polled, SourceConfig
from clameur.sources.search_watch import _compare

URLS = [f"https://site{n}.example/page" for n in range(8)]
CONFIG = SourceConfig(id=1, tenant_id=1, kind="search_watch", name="w", url=None, source="web")

pages = st.lists(st.lists(st.sampled_from(URLS), unique=True, max_size=6), max_size=8)


@settings(max_examples=150, deadline=None)
@given(days=pages)
def test_a_mention_per_entry_and_none_for_staying(days: list[list[str]]) -> None:
    state: dict[str, Any] = {}
    previous: list[str] = []
    entries: dict[str, int] = {}
    for number, page in enumerate(days):
        day = f"2030-01-{number + 1:02d}"
        results = [(i, {"url": u, "title": "t", "snippet": ""}) for i, u in enumerate(page, 1)]
        polled = Polled()
        state = _compare("volta", results, state, day, f"{day}T12:00:00+00:00", CONFIG, polled)
        expected = [u for u in page if u not in previous]
        assert [r["url"] for r in polled.records] == expected
        for record in polled.records:
            entries[record["url"]] = entries.get(record["url"], 0) + 1
            assert record["serp_entries"] == entries[record["url"]]
            assert record["external_id"].endswith(day)
            assert ("again" in record["text"]) == (entries[record["url"]] > 1)
        assert state["ranked"] == page
        assert set(state["gone"]).isdisjoint(page)
        previous = page
