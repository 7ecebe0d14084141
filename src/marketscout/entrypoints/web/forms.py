"""The dashboard's form-only addresses and the pages that hold their forms.

A form posts to an address that answers POST only (``/ui/data/upload``, ``/ui/alerts``...). Opened
in the browser (a bookmark, a link copied from the address bar, Back after the redirect), such an
address is not an error for the user to read: it answers with a redirect (303) to the page the form
is on, where the form can be sent again.
"""

from __future__ import annotations

import re

_FORM_PAGES = {
    "/ui/data/upload": "/ui/data",
    "/ui/alerts": "/ui/watchlist",
    "/ui/account/password": "/ui/account",
    "/ui/logout": "/",
}
_WATCH_TOGGLE = re.compile(r"^/ui/watchlist/(\d{1,19})/?$")


def form_page(path: str) -> str | None:
    """The page holding the form that posts to ``path``, when ``path`` answers only to a form."""
    if page := _FORM_PAGES.get(path.rstrip("/")):
        return page
    if found := _WATCH_TOGGLE.match(path):
        return f"/ui/products/{found.group(1)}"
    return None
