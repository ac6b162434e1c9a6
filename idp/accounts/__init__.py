"""Users, organizations, memberships, login sessions and passwords."""
