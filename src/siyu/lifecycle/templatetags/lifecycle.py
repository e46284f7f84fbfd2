from django import template

from siyu.lifecycle.rules import describe_condition

register = template.Library()


@register.filter
def rule_condition(rule) -> str:
    return describe_condition(rule)
