"""One owner of "is this access token usable" and "may it post these events for these accounts".

``state`` holds the usability rule and the statement that reads what it needs, ``posting`` the posting policy,
``service`` the ``ResourceAccess`` object the application context builds once, with its caches.
"""

from idp.oauth.resource_access.posting import RefusedEvents, UnknownAccounts
from idp.oauth.resource_access.service import Posting, ResourceAccess
from idp.oauth.resource_access.state import Unusable

__all__ = ["Posting", "RefusedEvents", "ResourceAccess", "UnknownAccounts", "Unusable"]
