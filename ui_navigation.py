"""A sidebar page switch survives a rerun that the browser sent for the page it was leaving.

The race (Streamlit 1.67; docs/hosting.md, "Lost clicks"): the browser names, in every
rerun request, the page it is on, and it learns that it switched pages only when the
server's first message of the new page's run comes back. A widget that changes in
between sends a rerun for the old page. On Predict that widget is the file uploader:
a visitor who clicks another page while their cover is still uploading sends the
switch, then the upload finishes and the uploader asks for a Predict rerun. The
server handles the newest request (``runner.fastReruns`` stops the new page's run)
and runs Predict again: the click is lost, with the link highlighted. No upstream
issue found; streamlit/streamlit#16158's review names the same "newest request's page
wins" rule for st.switch_page.

The workaround wraps Streamlit's ``AppSession.request_rerun`` (once per process):
while a switch is under way, a rerun for the page the browser is leaving that still
carries the URL's ``visitor`` parameter runs on the page the visitor switched to.
That parameter is in the URL on every page (ui.visitor_id), and a switch never
carries it: the browser keeps only the embedding parameters (and any bound to a
widget: none here) when it switches pages. The Back button is told apart by
Streamlit's own flag. A rerun for any other page means the browser got somewhere,
and the switch is over.
"""
from __future__ import annotations

import functools
import logging
import weakref
from urllib.parse import parse_qs

_LOG = logging.getLogger(__name__)
_WRAPPED = "_cover_lab_keeps_page_switches"
_SWITCHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # AppSession -> PageSwitch


class PageSwitch:
    """One browser session's page switch under way, if any (no Streamlit here)."""

    def __init__(self) -> None:
        self.to = ""            # the page switched to, until the browser is on it
        self.left: set[str] = set()   # pages the browser may still think it is on meanwhile
        self.last = ""          # the page of the last rerun passed on

    def page_for(self, page: str, query: str, *, history: bool = False,
                 server_page: str = "") -> str:
        """The page to run a rerun request on: ``page`` (a page script hash), or, for a
        request the browser sent for a page it is leaving, the page it switched to.
        ``server_page`` is the page of the server's latest run for this session."""
        if not page:            # a session's first request names its page by its URL
            return page
        if history or "visitor" not in parse_qs(query):
            # A switch: a sidebar link or st.page_link (they drop the visitor id), the
            # Back button. Until the browser is there, it may still send reruns for the
            # page it was on, or for the page of a switch this one overtook.
            self.left = (self.left | {server_page, self.last, self.to}) - {"", page}
            self.to = page
        elif self.to and page in self.left:
            page = self.to      # sent before the browser heard of the switch: keep it
        else:
            self.to, self.left = "", set()    # the browser is where it asked to be
        self.last = page
        return page


def keep_page_switches() -> None:
    """Wrap ``AppSession.request_rerun`` with :class:`PageSwitch` (idempotent; the
    server process's sessions all share the class)."""
    from streamlit.runtime.app_session import AppSession
    if getattr(AppSession.request_rerun, _WRAPPED, False):
        return
    original = AppSession.request_rerun

    @functools.wraps(original)
    def request_rerun(self, client_state=None, *args, **kwargs):
        if client_state is not None:
            try:
                client_state = _retargeted(self, client_state)
            except Exception:           # noqa: BLE001 - never break a rerun: Streamlit's own way
                _LOG.exception("page switch bookkeeping failed; rerun left as sent")
        return original(self, client_state, *args, **kwargs)

    setattr(request_rerun, _WRAPPED, True)
    AppSession.request_rerun = request_rerun


def _retargeted(session, client_state):
    switch = _SWITCHES.setdefault(session, PageSwitch())
    server_state = getattr(session, "_client_state", None)    # Streamlit's: the latest run's
    page = switch.page_for(client_state.page_script_hash, client_state.query_string,
                           history=client_state.is_history_navigation,
                           server_page=getattr(server_state, "page_script_hash", ""))
    if page == client_state.page_script_hash:
        return client_state
    _LOG.info("a rerun for page %s, sent before the browser heard of its switch, runs on %s",
              client_state.page_script_hash, page)
    moved = type(client_state)()
    moved.CopyFrom(client_state)
    moved.page_script_hash, moved.page_name = page, ""
    return moved
