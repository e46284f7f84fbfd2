"""WeCom event XML → plain dicts. Parsed with defusedxml: entity tricks and DTDs are refused."""

from __future__ import annotations

import io

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

# WeCom events nest three levels at most (<xml><MemChangeList><Item>); deeper documents are refused while
# parsing, before anything walks them recursively.
MAX_DEPTH = 16


class BadEventXml(ValueError):
    pass


def _value(element):
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if all(child.tag == "Item" for child in children):
        return [_value(child) for child in children]
    return {child.tag: _value(child) for child in children}


def parse_event(xml: bytes | str) -> dict:
    """The event's fields as a dict: ``{"Event": "change_external_contact", "ChangeType": …, …}``.

    Lists such as ``MemChangeList`` become lists of their ``Item`` texts; nested elements become dicts.
    """
    try:
        root = _parse_shallow(xml.encode("utf-8") if isinstance(xml, str) else xml)
    except (ElementTree.ParseError, DefusedXmlException, ValueError, TypeError) as error:
        raise BadEventXml(f"unreadable event XML: {error}") from None
    if root.tag != "xml":
        raise BadEventXml("the event is not a WeCom <xml> document")
    return {child.tag: _value(child) for child in root}


def _parse_shallow(xml: bytes):
    depth, root = 0, None
    for event, element in ElementTree.iterparse(io.BytesIO(xml), events=("start", "end"), forbid_dtd=True):
        if event == "start":
            depth += 1
            root = element if root is None else root
            if depth > MAX_DEPTH:
                raise BadEventXml(f"event XML nested deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1
    if root is None:
        raise BadEventXml("empty event XML")
    return root
