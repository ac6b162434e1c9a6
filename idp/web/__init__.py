"""Starlette endpoints and templates: parse, call a service, render."""
