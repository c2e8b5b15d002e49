"""Package list for setuptools: the library plus the top-level data/app folders.

``addons/``, ``dashboards/`` and ``fingerprints/`` live at the top of the checkout (so that
``mitmdump -s addons/capture.py`` and ``streamlit run dashboards/app.py`` work from it) and ship
inside the wheel as ``provenance.addons``, ``provenance.dashboards`` and ``provenance.fingerprints``
(``package-dir`` in pyproject.toml). Everything else is configured in pyproject.toml.
"""

from setuptools import find_packages, setup

TOP_LEVEL = ["provenance.addons", "provenance.dashboards", "provenance.fingerprints"]

setup(packages=find_packages(include=["provenance", "provenance.*"]) + TOP_LEVEL)
