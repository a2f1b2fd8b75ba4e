"""Synthetic demo data: fictional tenants, brands and a deterministic mention generator."""

from clameur.demo.generator import (
    DEMO_TENANTS,
    SOURCES,
    DemoBrand,
    DemoTenant,
    generate_mentions,
    write_jsonl,
)

__all__ = [
    "DEMO_TENANTS",
    "SOURCES",
    "DemoBrand",
    "DemoTenant",
    "generate_mentions",
    "write_jsonl",
]
