"""Routes of the product UI; each app contributes its own namespace."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("search/", views.search, name="search"),
    path("", include(("l2c.apps.customers.urls", "customers"))),
    path("", include(("l2c.apps.marketing.urls", "marketing"))),
    path("", include(("l2c.apps.tenders.urls", "tenders"))),
    path("", include(("l2c.apps.leads.urls", "leads"))),
    path("", include(("l2c.apps.opportunities.urls", "opportunities"))),
    path("", include(("l2c.apps.catalog.urls", "catalog"))),
    path("", include(("l2c.apps.pricing.urls", "pricing"))),
    path("", include(("l2c.apps.activity.urls", "activity"))),
    path("", include(("l2c.apps.identity.urls", "identity"))),
]
