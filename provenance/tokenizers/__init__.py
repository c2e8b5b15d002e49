"""Tokenizer registry: loaders for tokenizer files and the generated signature files.

``load_tokenizer(source)`` gives a :class:`TokenizerHandle`; ``load_signatures()`` reads every
``fingerprints/tokenizers/*.jsonl`` (and the user's own under the data directory).
"""

from provenance.tokenizers.handle import TokenizerHandle
from provenance.tokenizers.loaders import load_tokenizer

__all__ = ["TokenizerHandle", "load_tokenizer"]
