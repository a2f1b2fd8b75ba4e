"""REST API v1: every route takes the request's principal (``clameur.web.auth``) and names
its policy action (``common.operation``); one module per resource."""

from fastapi import APIRouter

from clameur.web.api_v1.alerts import router as alerts_router
from clameur.web.api_v1.brands import router as brands_router
from clameur.web.api_v1.campaigns import router as campaigns_router
from clameur.web.api_v1.canned import router as canned_router
from clameur.web.api_v1.conversations import router as conversations_router
from clameur.web.api_v1.docs import router as docs_router
from clameur.web.api_v1.floor import router as floor_router
from clameur.web.api_v1.incidents import router as incidents_router
from clameur.web.api_v1.ingest import router as ingest_router
from clameur.web.api_v1.me import router as me_router
from clameur.web.api_v1.mentions import router as mentions_router
from clameur.web.api_v1.rules import router as rules_router
from clameur.web.api_v1.sources import router as sources_router
from clameur.web.api_v1.tokens import router as tokens_router
from clameur.web.api_v1.users import router as users_router

ROUTERS: tuple[APIRouter, ...] = (
    me_router,
    mentions_router,
    conversations_router,
    canned_router,
    alerts_router,
    campaigns_router,
    incidents_router,
    floor_router,
    brands_router,
    rules_router,
    users_router,
    tokens_router,
    ingest_router,
    sources_router,
    docs_router,
)
