"""Routes of the leads pages (namespace "leads", included at the site root)."""


urlpatterns: list = []
