"""The incidents pages (being built: see issue #13)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from clameur.web.auth import page_session

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])
