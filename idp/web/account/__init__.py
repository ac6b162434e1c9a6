"""``/account``: a person's own page. One page template (``account/page.html``) of sections, each a template
of its own under ``templates/account/`` with its handlers in a module of this package: ``profile`` (name,
e-mail change), ``password``, ``sessions``, ``applications``. A new section (second factors) adds a template,
a module with its ``routes``, a line in ``SECTIONS`` below and one in the page template."""

from __future__ import annotations

from idp.web.account import applications, page, password, profile, sessions

SECTIONS = (profile, password, sessions, applications)

routes = [*page.routes, *(route for section in SECTIONS for route in section.routes)]
