"""Canary: an OpenID Connect provider that knows who is actually using the product."""

__version__ = "0.1.0"
