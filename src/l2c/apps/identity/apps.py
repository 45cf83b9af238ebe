from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_builtin_roles(sender: AppConfig, **kwargs: object) -> None:
    # Bootstrapping, not domain flow: make sure built-in roles and default grants exist.
    from .services import roles_ensure_builtin

    roles_ensure_builtin()


class IdentityConfig(AppConfig):
    name = "l2c.apps.identity"
    label = "identity"
    verbose_name = "Identity"

    def ready(self) -> None:
        post_migrate.connect(_ensure_builtin_roles, sender=self, dispatch_uid="l2c_builtin_roles")
