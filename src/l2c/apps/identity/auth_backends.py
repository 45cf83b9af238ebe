"""Log in by username or e-mail (ModelBackend with the manager's natural-key lookup)."""

from django.contrib.auth.backends import ModelBackend


class UsernameOrEmailBackend(ModelBackend):
    """ModelBackend whose lookup goes through `User.objects.get_by_natural_key` (username or e-mail)."""
