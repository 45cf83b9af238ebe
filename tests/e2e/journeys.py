"""Steps the browser journeys share."""

from __future__ import annotations

import re
from typing import Any


def login(page: Any, live_server: Any, username: str, password: str, language: str) -> None:
    """Log in through the form with the UI in `language`; returns on the home page."""
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/$"))
