from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "l2c.apps.demo"
    label = "demo"
    verbose_name = "Demo data"
