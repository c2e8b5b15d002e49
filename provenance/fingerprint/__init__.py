"""Fingerprint stages: tokenizer (cheap, from token counts), logits (against reference models)."""
