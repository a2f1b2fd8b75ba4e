"""Request-scoped dependencies: one session per request, committed at the edge.

Routes take it as ``Depends(db_session, scope="function")``: the session commits when the
route function returns, *before* the response is sent — so a client that sees 201 knows
the write is stored (and a failed commit is a 500, never a success), and a redirect is
followed only once what it points at exists. (FastAPI's default scope closes dependencies
after the response has gone.)"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from clameur.db import session_scope


def db_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.session_factory) as session:
        yield session
