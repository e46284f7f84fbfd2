"""One input layer for the API and the console: numbers the database can store, text it can encode.

Integers are range-checked against a signed 64-bit column (what SQLite and PostgreSQL ``bigint`` hold): a
bigger one is not "not found", it is bad input, answered 422 in the API and 400 in the console. Text loses
lone surrogates (which no database encoding accepts) and bidirectional control characters (which make a name
display as something else, e.g. ``"\u202egnp.exe"``). XML depth is limited in ``siyu.wecom.xmlmsg``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.db import DataError
from django.shortcuts import render
from django.utils.translation import gettext as _
from ninja.parser import Parser

MAX_INT = 2**63 - 1
MIN_INT = -(2**63)

# Lone UTF-16 surrogates, and the bidirectional embedding/override/isolate controls (LRE … RLO, LRI … PDI).
_UNWANTED = re.compile("[\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


class OutOfRange(ValueError):
    """An integer in the input does not fit a 64-bit column."""


def clean_text(value: str) -> str:
    """``value`` without lone surrogates and bidirectional controls."""
    return _UNWANTED.sub("", value)


def clean(value: Any) -> Any:
    """Clean every string of a decoded JSON document and refuse integers outside the 64-bit range."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise OutOfRange(str(value)[:40])
        return value
    if isinstance(value, list):
        return [clean(item) for item in value]
    if isinstance(value, dict):
        return {clean_text(key): clean(item) for key, item in value.items()}
    return value


class CleanParser(Parser):
    """django-ninja's parser for the API: JSON bodies and query strings go through :func:`clean`.

    Query strings are text: a digit string beyond the 64-bit range is refused here before pydantic makes an
    ``int`` of it that no database column can hold.
    """

    def parse_body(self, request):
        return clean(json.loads(request.body))

    def parse_querydict(self, data, list_fields, request):
        parsed = super().parse_querydict(data, list_fields, request)
        for values in parsed.values():
            for value in values if isinstance(values, list) else [values]:
                _check_digits(value)
        return {key: clean(value) for key, value in parsed.items()}


def _check_digits(value: str) -> None:
    text = value.strip()
    if text.lstrip("+-").isdigit() and len(text) > 18:
        try:
            number = int(text)
        except ValueError:  # more digits than Python converts: certainly out of range
            raise OutOfRange(text[:40]) from None
        if not MIN_INT <= number <= MAX_INT:
            raise OutOfRange(text[:40])


class BadInputMiddleware:
    """The console's last line for numbers no column holds (an id ≥ 2**63 in a URL, a filter or a form):
    SQLite raises OverflowError and PostgreSQL a DataError when binding them. Answer 400, not 500; the request's
    writes, if any, were not made (the failing statement is the bind)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, (OverflowError, DataError, OutOfRange)):
            return render(request, "console/error.html", {
                "title": _("输入有误"), "message": _("输入的数值超出范围，请检查后重试。")}, status=400)
        return None
