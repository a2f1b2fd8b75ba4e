"""The request's transaction commits before the response leaves: a client that sees 201
knows the write is stored, and a redirect is only followed once its target exists."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import event
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.pipeline import Pipeline
from clameur.web import create_app
from tests.conftest import Database, bearer, make_api_world


class Recorder:
    """Wraps the app and notes when the response starts."""

    def __init__(self, app: ASGIApp, events: list[str]) -> None:
        self.app, self.events = app, events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.events.append(f"response {message['status']}")
            await send(message)

        await self.app(scope, receive, noting)


def test_a_write_is_committed_before_its_response_starts(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    world = make_api_world(db, pipeline, clock, tmp_path / "a.jsonl")
    app = create_app(Settings(database_url=db.url))
    events: list[str] = []
    event.listen(app.state.session_factory, "after_commit", lambda _s: events.append("commit"))
    client = TestClient(Recorder(app, events), base_url="http://127.0.0.1")
    response = client.post(
        f"/api/v1/conversations/{world.conversation_id}/notes",
        json={"text": "checked the order"},
        headers=bearer(world.tokens["agent"]),
    )
    assert response.status_code == 201, response.text
    assert events == ["commit", "response 201"]
