"""WSGI entry point (gunicorn l2c.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "l2c.settings")
application = get_wsgi_application()
