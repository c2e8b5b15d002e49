"""The dashboard's server entry (what ``provenance dashboard`` runs): ``app.py`` and its pages
as a Streamlit ASGI app behind :class:`provenance.netguard.RequestGuard`, so that a request for
any other ``Host`` (DNS rebinding) or from a foreign ``Origin`` gets nothing. Names besides IP
addresses and ``localhost`` come from ``$PROVENANCE_ALLOW_HOSTS`` (``--allow-host``). With a
password (``--password-env``), ``provenance dashboard`` hands its scrypt hash over through a
pipe named by ``$PROVENANCE_DASHBOARD_AUTH_FD``, read once here; every request then needs the
password (HTTP Basic, throttled per client: see :class:`provenance.gate.PasswordGate`). A
hand-over that cannot be read stops the server: it never runs without the password it was
given."""

import os
import sys

import streamlit as st
from starlette.middleware import Middleware

from provenance.gate import PasswordGate
from provenance.netguard import ALLOW_HOSTS_ENV, RequestGuard
from provenance.passwords import take_handed_secret

_ALLOWED = tuple(h for h in os.environ.get(ALLOW_HOSTS_ENV, "").split(",") if h.strip())
try:
    _PASSWORD_HASH = take_handed_secret(os.environ)
except RuntimeError as exc:
    sys.exit(f"error: {exc}")

_middleware = [Middleware(RequestGuard, allow_hosts=_ALLOWED)]
if _PASSWORD_HASH is not None:  # every request needs the password
    _middleware.append(Middleware(PasswordGate, password_hash=_PASSWORD_HASH))
app = st.App("app.py", middleware=_middleware)
