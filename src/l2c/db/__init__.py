"""Database helpers on top of the ORM: Django yes, business apps no."""
