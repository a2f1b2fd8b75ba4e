"""REST API v1: every route takes the request's principal (``clameur.web.auth``)."""

from fastapi import APIRouter

from clameur.web.api_v1.mentions import router as mentions_router

ROUTERS: tuple[APIRouter, ...] = (mentions_router,)
