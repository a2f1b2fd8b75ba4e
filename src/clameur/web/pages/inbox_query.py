"""The inbox's address: which view and filters a page shows, read from its query string
(``/inbox?view=queue:3&level=P1&q=remboursement``) and written back into its links.

Wrong values are not an error page: each is reported (GOV.UK style, next to its field)
and left out, and the rest of the page shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from urllib.parse import urlencode

from clameur.care.inbox_views import Filters, View, default_view
from clameur.errors import InvalidInputError
from clameur.tenancy.principal import Principal

PARAMS = ("brand", "source", "lang", "level", "status", "sentiment", "intent", "tag", "q")
"""Filter parameters, in the order of the address (``brand`` is a brand id)."""
MAX_PARAM = 600


@dataclass(frozen=True, slots=True)
class InboxQuery:
    view: View
    filters: Filters = Filters()
    cursor: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    """Parameter → what is wrong with it (English: the services' messages)."""
    _query_string: str | None = field(default=None, init=False, repr=False, compare=False)

    def params(self, **changes: str | None) -> dict[str, str]:
        """The view and filters as query parameters (no cursor), with ``changes``."""
        out: dict[str, str] = {"view": self.view.key}
        for name in PARAMS:
            value = getattr(self.filters, "brand_id" if name == "brand" else name)
            if value is not None:
                out[name] = str(value)
        for name, value in changes.items():
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
        return out

    def url(self, path: str = "/inbox", **changes: str | None) -> str:
        return f"{path}?{urlencode(self.params(**changes))}"

    @property
    def query_string(self) -> str:
        """The view and filters as a query string (each row's forms carry it: written once)."""
        if self._query_string is None:
            object.__setattr__(self, "_query_string", urlencode(self.params()))
        assert self._query_string is not None
        return self._query_string

    def with_view(self, view: View) -> str:
        """The address of another view with the same filters (but the view's own default
        status)."""
        return self.url(view=view.key, status=None)


def parse(principal: Principal, params: Mapping[str, str]) -> InboxQuery:
    """The view and filters of ``params``; a wrong value is reported in ``errors`` and
    dropped."""
    errors: dict[str, str] = {}
    raw = {name: params.get(name, "")[:MAX_PARAM] for name in ("view", *PARAMS, "cursor")}
    view = default_view(principal)
    if raw["view"].strip():
        try:
            view = View.parse(raw["view"])
        except InvalidInputError as exc:
            errors["view"] = exc.reason
    brand_id: int | None = None
    if raw["brand"].strip():
        if raw["brand"].strip().isdigit() and len(raw["brand"].strip()) < 19:
            brand_id = int(raw["brand"])
        else:
            errors["brand"] = "unknown brand"
    filters = Filters(brand_id=brand_id, **{name: raw[name] for name in PARAMS if name != "brand"})
    while True:
        try:
            filters = filters.checked()
            break
        except InvalidInputError as exc:
            where = exc.where if exc.where in _FIELDS else "q"
            errors[where] = exc.reason
            filters = replace(filters, **{where: None})
    cursor = raw["cursor"].strip() or None
    return InboxQuery(view, filters, cursor, errors)


_FIELDS = frozenset(f.name for f in fields(Filters))
