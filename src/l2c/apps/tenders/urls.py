"""Routes of the tenders pages (namespace "tenders", included at the site root)."""


urlpatterns: list = []
