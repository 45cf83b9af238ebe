"""The REST API: NinjaAPI root (`root.py`), auth, problem+json errors, pagination, concurrency."""
