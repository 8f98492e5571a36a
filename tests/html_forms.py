"""Reading a login page's forms as a browser does, for tests that drive authorization flows with httpx."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx


class Page(HTMLParser):
    """The forms of a page: id -> {"action", "fields" (hidden inputs), "buttons" (id -> (name, value))}."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: dict[str, dict] = {}
        self._form: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = self.forms[a.get("id", "")] = {"action": a.get("action", ""), "fields": {}, "buttons": {}}
        elif self._form is not None and tag == "input" and a.get("type") == "hidden":
            self._form["fields"][a["name"]] = a["value"]
        elif self._form is not None and tag == "button":
            self._form["buttons"][a["id"]] = (a["name"], a["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None

    def submit(self, browser: httpx.Client, form_id: str, button: str | None = None, **typed: str) -> httpx.Response:
        """Post a form as pressing `button` would (typed fields added); the answer's redirect is not followed."""
        form = self.forms[form_id]
        pressed = dict([form["buttons"][button]]) if button else {}
        return browser.post(form["action"], data={**form["fields"], **typed, **pressed})
