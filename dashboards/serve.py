"""The dashboard's server entry (what ``provenance dashboard`` runs): ``app.py`` and its pages
as a Streamlit ASGI app behind :class:`provenance.netguard.RequestGuard`, so that a request for
any other ``Host`` (DNS rebinding) or from a foreign ``Origin`` gets nothing. Names besides IP
addresses and ``localhost`` come from ``$PROVENANCE_ALLOW_HOSTS`` (``--allow-host``)."""

import os

import streamlit as st
from starlette.middleware import Middleware

from provenance.netguard import ALLOW_HOSTS_ENV, RequestGuard

_ALLOWED = tuple(h for h in os.environ.get(ALLOW_HOSTS_ENV, "").split(",") if h.strip())

app = st.App("app.py", middleware=[Middleware(RequestGuard, allow_hosts=_ALLOWED)])
