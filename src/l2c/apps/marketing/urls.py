"""Routes of the marketing pages (namespace "marketing", included at the site root)."""


urlpatterns: list = []
