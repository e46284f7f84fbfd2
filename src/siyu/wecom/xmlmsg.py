"""WeCom event XML → plain dicts. Parsed with defusedxml: entity tricks and DTDs are refused."""

from __future__ import annotations

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException


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
        root = ElementTree.fromstring(xml, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError, TypeError) as error:
        raise BadEventXml(f"unreadable event XML: {error}") from None
    if root.tag != "xml":
        raise BadEventXml("the event is not a WeCom <xml> document")
    return {child.tag: _value(child) for child in root}
