"""provenance: which base model does an AI product really run on, and how do we know?

Importing this package is cheap: it never imports torch, transformers, streamlit or scapy.
"""

__version__ = "0.1.0"
