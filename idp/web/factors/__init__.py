"""Second factors on the web: the step after the password, enrollment at sign-in, passkey sign-in, and the
user's security page. ``routes`` (in ``idp.web.factors.routes``) lists their endpoints."""
