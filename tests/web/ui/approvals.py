"""The page object of the approvals view: the waiting replies, approve, send back."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page


class ApprovalsPage:
    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    def open(self) -> ApprovalsPage:
        self.page.goto(f"{self.base}/approvals")
        self.page.locator("#approvals").wait_for()
        return self

    def item(self, reply_id: int) -> Locator:
        return self.page.locator(f"#approval-{reply_id}")

    @property
    def reply_ids(self) -> list[int]:
        return [
            int(i)
            for i in self.page.locator("li.approval").evaluate_all(
                "items => items.map(i => i.dataset.reply)"
            )
        ]

    def approve(self, reply_id: int) -> None:
        self.item(reply_id).locator("button.approve").click()

    def send_back(self, reply_id: int, reason: str) -> None:
        item = self.item(reply_id)
        item.locator("textarea[name=reason]").fill(reason)
        item.locator("button.reject").click()

    def decided(self, reply_id: int) -> Locator:
        return self.page.locator(f"#approval-{reply_id}.decided")

    def error(self, reply_id: int) -> Locator:
        return self.item(reply_id).locator(".error-message")
