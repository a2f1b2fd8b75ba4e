"""Page objects of the incidents pages: the list and the crisis page (the holding answer,
"send to every author", the progress and the per-author results, the live conversations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page


class IncidentsPage:
    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    def open(self) -> IncidentsPage:
        self.page.goto(f"{self.base}/incidents")
        return self

    @property
    def titles(self) -> list[str]:
        return self.page.locator("a.incident-link").all_inner_texts()

    def open_incident(self, title: str) -> None:
        self.page.locator("a.incident-link", has_text=title).click()
        self.page.wait_for_load_state()


class IncidentPage:
    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    def open(self, incident_id: int) -> IncidentPage:
        self.page.goto(f"{self.base}/incidents/{incident_id}")
        self.page.locator("#incident-holding").wait_for()
        return self

    @property
    def holding(self) -> Locator:
        return self.page.locator("#incident-holding")

    @property
    def holding_state(self) -> str:
        return self.holding.locator(".holding-state").inner_text()

    def write_answer(self, text: str) -> None:
        details = self.holding.locator("details.holding-edit")
        if details.get_attribute("open") is None:
            details.locator("summary").click()
        self.holding.locator("#holding-text").fill(text)

    def insert_variable(self, name: str) -> None:
        self.holding.locator(f"button[data-insert='{{{name}}}']").click()

    def approve(self, text: str | None = None) -> None:
        if text is not None:
            self.write_answer(text)
        self.holding.locator("button[value='approve']").click()
        self.holding.locator(".holding-state.ok").wait_for()

    def propose(self, text: str) -> None:
        self.write_answer(text)
        self.holding.locator("button[value='propose']").click()
        self.holding.locator(".holding-state.warn").wait_for()

    @property
    def send_button(self) -> Locator:
        return self.holding.locator("button.send-all")

    def send_to_every_author(self) -> None:
        self.page.once("dialog", lambda dialog: dialog.accept())
        self.send_button.click()

    @property
    def progress(self) -> Locator:
        return self.page.locator("#bulk-progress")

    def wait_for_done(self, done: int) -> None:
        self.page.wait_for_function(
            "n => { const p = document.getElementById('bulk-progress');"
            " return p && Number(p.getAttribute('value')) === n; }",
            arg=done,
            timeout=20_000,
        )

    @property
    def results(self) -> list[tuple[str, str]]:
        rows = self.page.locator("#incident-progress tr.result")
        out = []
        for i in range(rows.count()):
            cells = rows.nth(i).locator("td")
            out.append((cells.nth(0).inner_text().split()[0], cells.nth(1).inner_text()))
        return out

    def show_results(self) -> None:
        details = self.page.locator("#incident-progress details.results")
        if details.get_attribute("open") is None:
            details.locator("summary").click()

    @property
    def conversation_ids(self) -> list[int]:
        return [
            int(i)
            for i in self.page.locator("#incident-conversations li.conv").evaluate_all(
                "items => items.map(i => i.dataset.id)"
            )
        ]

    def conversation(self, conversation_id: int) -> Locator:
        return self.page.locator(f'#incident-conversations li.conv[data-id="{conversation_id}"]')

    @property
    def toasts(self) -> list[str]:
        return self.page.locator("#toast > div").all_inner_texts()
