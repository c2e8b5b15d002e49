"""Fixtures of the logit-fingerprint tests: a zoo of tiny real models, built once per session.

Seeds 0–99 only (the decision rules were developed on 5000–5999, the benchmark uses 2000–2099).
Bases: three Qwen3-MoE models of one tokenizer trained briefly on standard-library docstrings;
derivatives: two of them trained further on other text; unrelated: another seed on the same text,
another text, another architecture (DeepSeek-V3); plus a model with a different tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from provenance.fingerprint.logits.zoo import Recipe, Zoo, foreign_tokenizer_model

BASES = [Recipe("base-a", 1), Recipe("base-b", 2), Recipe("base-c", 3)]
DERIVATIVES = {
    "deriv-a": (
        Recipe("deriv-a", 11, corpus="finetune", steps=40, lr=3e-4, parent="base-a"),
        "base-a",
    ),
    "deriv-b": (
        Recipe("deriv-b", 12, corpus="other", steps=40, lr=3e-4, parent="base-b"),
        "base-b",
    ),
}
UNRELATED = [
    Recipe("unrel-seed", 21),
    Recipe("unrel-text", 22, corpus="other"),
    Recipe("unrel-arch", 23, arch="deepseek_v3"),
]


@dataclass
class ZooModels:
    root: Path
    bases: dict[str, Path]
    derivatives: dict[str, tuple[Path, str]]
    unrelated: dict[str, Path]
    foreign: Path


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> ZooModels:
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(1)  # tiny models: more threads only add contention
    root = tmp_path_factory.mktemp("zoo")
    z = Zoo(root)
    bases = {r.name: z.build(r) for r in BASES}
    derivs = {name: (z.build(r), parent) for name, (r, parent) in DERIVATIVES.items()}
    unrel = {r.name: z.build(r) for r in UNRELATED}
    foreign = foreign_tokenizer_model(root / "foreign-tok", seed=31)
    return ZooModels(root, bases, derivs, unrel, foreign)


@pytest.fixture(scope="session")
def untrained_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny Qwen3-MoE with a real tokenizer: cheap, for tests of plumbing only."""
    from provenance.fingerprint.logits.zoo import Zoo, init_model

    root = tmp_path_factory.mktemp("untrained")
    tok = Zoo(root / "zoo").tokenizer
    model = init_model("qwen3_moe", len(tok), seed=7)
    folder = root / "untrained-base"
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def base_reference(zoo: ZooModels):
    from provenance.reference.transformers_backend import TransformersReference

    return TransformersReference(zoo.bases["base-a"])


@pytest.fixture(scope="session")
def served_base(zoo: ZooModels, base_reference) -> Iterator[str]:
    """base-a served over HTTP by the serve-reference app (in a thread, port 0)."""
    from provenance.reference.server import BackgroundServer, ReferenceService, create_app

    app = create_app(ReferenceService(base_reference, "base-a"))
    with BackgroundServer(app) as srv:
        yield srv.url
