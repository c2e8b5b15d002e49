"""The ``provenance`` command line: thin adapters over the library."""
