"""Import/export registrations for accounts and contacts (filled in below)."""


def register_all() -> None:
    """Register the account and contact importers with the activity import machinery."""
