"""Siyu (私域): private-domain operations on WeCom — a Social CRM and a Customer Data Platform in one."""

__version__ = "0.1.0"
