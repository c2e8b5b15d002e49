"""Reference models: candidate bases that an endpoint's logprobs are compared with.

:class:`~provenance.reference.base.ReferenceModel` is the interface; backends live in
``transformers_backend`` (in-process), ``remote_backend`` (vLLM / SGLang / ``serve-reference``) and
``cache`` (a disk cache wrapping either). Importing this package imports no heavy dependency.
"""
