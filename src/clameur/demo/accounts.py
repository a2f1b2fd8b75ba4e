"""Demo accounts: one user per role in each demo tenant, the demo agent's colleagues on the
floor (:data:`clameur.demo.staff.PLANS`), and one operator, sharing one password made afresh
at every ``clameur demo`` (printed once, never a fixed default that would also open an
instance someone exposed by mistake)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select

from clameur.db import session_scope
from clameur.demo.generator import DEMO_TENANTS
from clameur.demo.staff import PLANS
from clameur.errors import InvalidInputError
from clameur.pipeline import Pipeline
from clameur.tenancy import ROLES, Tenant, add_user, find_user, grant
from clameur.tenancy.accounts import set_password
from clameur.tenancy.passwords import check_new_password

OPERATOR_EMAIL = "operator@clameur.example"


def demo_email(role: str, tenant_slug: str) -> str:
    return f"{role}@{tenant_slug}.example"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    email: str
    role: str
    tenant: str
    """A tenant slug, or ``*`` for the operator (admin of every tenant)."""
    name: str | None = None


@dataclass(frozen=True, slots=True)
class DemoAccounts:
    password: str
    accounts: tuple[DemoAccount, ...]

    def email(self, role: str, tenant: str) -> str:
        """The first demo account holding ``role`` in ``tenant`` (``*``: the operator)."""
        for account in self.accounts:
            if account.role == role and account.tenant == tenant:
                return account.email
        raise KeyError(f"no demo {role} in {tenant}")

    def describe(self, url: str) -> str:
        """What ``clameur demo`` prints: where to sign in, the accounts, the password."""
        width = max(len(account.email) for account in self.accounts)
        lines = [f"Sign in at {url.rstrip('/')}/login with one of these demo accounts:"]
        for account in self.accounts:
            where = "every tenant (operator)" if account.tenant == "*" else account.tenant
            lines.append(f"  {account.email:<{width}}  {account.role:<10}  {where}")
        lines.append(f"Password of every demo account: {self.password}")
        lines.append("(a new password at every `clameur demo`; demo accounts only)")
        return "\n".join(lines)


def new_demo_password() -> str:
    while True:
        candidate = secrets.token_urlsafe(12)
        try:
            return check_new_password(candidate)
        except InvalidInputError:  # pragma: no cover - vanishingly rare
            continue


def ensure_demo_users(pipeline: Pipeline, *, password: str | None = None) -> DemoAccounts:
    """Create (or reset to ``password``) the demo users of the demo tenants, which must
    exist (:func:`clameur.demo.load.ensure_demo_tenants`). Idempotent."""
    password = check_new_password(password) if password else new_demo_password()
    accounts: list[DemoAccount] = []
    clock = pipeline.clock
    with session_scope(pipeline.factory) as session:
        wanted: list[tuple[str, str, str, str | None]] = [(OPERATOR_EMAIL, "admin", "*", None)]
        for t in DEMO_TENANTS:
            wanted += [(demo_email(r, t.slug), r, t.slug, None) for r in ROLES]
            plan = PLANS.get(t.slug)
            staff = plan.staff if plan is not None else ()
            wanted += [(a.email(t.slug), "agent", t.slug, a.name) for a in staff]
        for email, role, slug, name in wanted:
            user = find_user(session, email)
            if user is None:
                user = add_user(
                    session, clock, email, name=name, password=password, operator=slug == "*"
                )
            else:
                set_password(session, user, password)
                user.active = True
            if slug != "*":
                tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
                if tenant is None:
                    raise InvalidInputError(f"demo tenant {slug!r} is missing", where="demo")
                grant(session, clock, user, tenant.id, role)
            accounts.append(DemoAccount(email=email, role=role, tenant=slug, name=name))
    return DemoAccounts(password=password, accounts=tuple(accounts))
