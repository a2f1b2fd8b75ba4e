"""Page objects of the alerts pages and campaign review (one class per page: what a person
does there and what they see), and axe-core for them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-4.14.1.min.js"


def axe(page: Page) -> list[str]:
    """Serious and critical axe-core violations of the page as it is now. (The page's CSP
    refuses axe in an inline script tag; evaluating its source through the debugger
    protocol is not subject to it.)"""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {v['nodes']}"
        for v in results
        if v["impact"] in ("serious", "critical")
    ]


class AlertsPage:
    """``/alerts``: the list, its state tabs and filters, j/k and Enter."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    def open(self, query: str = "") -> AlertsPage:
        self.page.goto(f"{self.base}/alerts{'?' + query if query else ''}")
        self.page.locator("#alert-rows").wait_for()
        return self

    @property
    def ids(self) -> list[int]:
        return [
            int(i)
            for i in self.page.locator("tr.alert-row").evaluate_all(
                "rows => rows.map(r => r.dataset.id)"
            )
        ]

    def row(self, alert_id: int) -> Locator:
        return self.page.locator(f'tr.alert-row[data-id="{alert_id}"]')

    def filter_kind(self, label: str) -> None:
        self.page.get_by_label(re.compile("^(Type|Kind)$")).select_option(label=label)
        self.page.wait_for_load_state()

    def press(self, key: str) -> None:
        self.page.locator("body").press(key)

    @property
    def current(self) -> int | None:
        found = self.page.locator("tr.alert-row.is-current")
        return int(found.get_attribute("data-id") or 0) if found.count() else None


class AlertPage:
    """``/alerts/{id}``: the summary, the chart, the evidence, the handling panel."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    def open(self, alert_id: int) -> AlertPage:
        self.page.goto(f"{self.base}/alerts/{alert_id}")
        return self

    @property
    def heading(self) -> str:
        return self.page.locator("h1").inner_text()

    @property
    def state(self) -> Locator:
        return self.page.locator("#alert-state")

    @property
    def chart(self) -> Locator:
        return self.page.locator("svg.spike-chart")

    @property
    def bars(self) -> int:
        return self.chart.locator("rect").count()

    @property
    def can_act(self) -> bool:
        return self.state.locator("form").count() > 0

    def acknowledge(self) -> None:
        self.state.locator("form[action$='/acknowledge'] button").click()

    def mute(self, label: str) -> None:
        self.state.locator("#mute-hours").select_option(label=label)
        self.state.locator("form.mute-form button").click()

    def resolve(self, note: str) -> None:
        self.state.locator("#resolve-note").fill(note)
        self.state.locator("form.resolve-form button").click()

    def open_incident(self) -> None:
        self.state.locator("a[href^='/incidents/']").click()
        self.page.wait_for_load_state()


class CampaignPage:
    """``/campaigns/{alert_id}``: the cluster side by side and the verdict."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    def open(self, alert_id: int) -> CampaignPage:
        self.page.goto(f"{self.base}/campaigns/{alert_id}")
        return self

    @property
    def posts(self) -> Locator:
        return self.page.locator("ol.cluster li.post")

    @property
    def texts(self) -> list[str]:
        return self.page.locator("ol.cluster .post-text").all_inner_texts()

    @property
    def can_decide(self) -> bool:
        return self.page.locator("section.verdict form").count() > 0

    def _decide(self, button: str, note: str) -> None:
        self.page.once("dialog", lambda dialog: dialog.accept())
        self.page.locator("#verdict-note").fill(note)
        self.page.locator(f"section.verdict button[value='{button}']").click()
        self.page.wait_for_load_state()

    def confirm(self, note: str = "") -> None:
        self._decide("confirm", note)

    def reject(self, note: str = "") -> None:
        self._decide("reject", note)

    @property
    def verdict(self) -> str:
        return self.page.locator("main .notice[role=status]").inner_text()

    @property
    def report_link(self) -> Locator:
        return self.page.locator("a[href$='/report.csv']")
