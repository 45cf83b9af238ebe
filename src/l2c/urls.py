"""URL routes: the product UI, the REST API under /api/v1, health check and the admin."""

from django.contrib import admin
from django.urls import include, path

from l2c.api.root import api
from l2c.web import views as web_views

urlpatterns = [
    path("healthz", web_views.healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("l2c.web.urls")),
]
