"""Fingerprint stages: tokenizer (cheap, from token counts) and logits (against reference models)."""
