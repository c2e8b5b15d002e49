"""The dashboard's server entry (what ``provenance dashboard`` runs): ``app.py`` and its pages
as a Streamlit ASGI app behind :class:`provenance.netguard.RequestGuard`, so that a request for
any other ``Host`` (DNS rebinding) or from a foreign ``Origin`` gets nothing. Names besides IP
addresses and ``localhost`` come from ``$PROVENANCE_ALLOW_HOSTS`` (``--allow-host``). With
``$PROVENANCE_DASHBOARD_PASSWORD_HASH`` set (``--password-env``), every request also needs the
password (HTTP Basic; see :class:`provenance.netguard.PasswordGate`)."""

import os

import streamlit as st
from starlette.middleware import Middleware

from provenance.netguard import ALLOW_HOSTS_ENV, PASSWORD_HASH_ENV, PasswordGate, RequestGuard

_ALLOWED = tuple(h for h in os.environ.get(ALLOW_HOSTS_ENV, "").split(",") if h.strip())
_PASSWORD_HASH = os.environ.get(PASSWORD_HASH_ENV, "")

_middleware = [Middleware(RequestGuard, allow_hosts=_ALLOWED)]
if _PASSWORD_HASH:  # served beyond loopback: every request needs the password
    _middleware.append(Middleware(PasswordGate, password_hash=_PASSWORD_HASH))
app = st.App("app.py", middleware=_middleware)
