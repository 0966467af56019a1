"""Limit/offset pagination for the API, in two flavours.

``ApiPagination`` is DRF's, with a ceiling on ``limit``: small lists (locations,
stock of one place) keep the usual ``count``/``next``/``previous``/``results``.

``NoCountPagination`` is for the stock card, which can hold millions of entries:
a page is one index scan of ``LIMIT limit + 1 OFFSET offset`` rows (the extra row
says whether there is a next page), and no ``COUNT(*)`` walks the whole card on
every request. The response is ``next``/``previous``/``results``; a client pages
by following ``next`` until it is null.
"""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

MAX_LIMIT = 1000
# PostgreSQL's OFFSET is a bigint; a larger number from the query string would be a
# database error, so it is clamped (the page is then simply empty).
MAX_OFFSET = 2**62


class ApiPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT


class NoCountPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self.get_limit(request) or self.max_limit
        self.offset = min(self.get_offset(request), MAX_OFFSET)
        self.count = None
        rows = list(queryset[self.offset : self.offset + self.limit + 1])
        self.has_next = len(rows) > self.limit
        return rows[: self.limit]

    def get_next_link(self):
        if not self.has_next:
            return None
        url = self.request.build_absolute_uri()
        url = replace_query_param(url, self.limit_query_param, self.limit)
        return replace_query_param(url, self.offset_query_param, self.offset + self.limit)

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        full = super().get_paginated_response_schema(schema)
        full["required"] = ["results"]
        del full["properties"]["count"]
        return full
