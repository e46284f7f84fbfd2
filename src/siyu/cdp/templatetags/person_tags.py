"""Template filters of the person pages."""

from django import template

from siyu.cdp import labels

register = template.Library()


register.filter("source_label", labels.source_label)
