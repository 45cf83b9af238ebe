from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "l2c.apps.activity"
    label = "activity"
    verbose_name = "Activity"
