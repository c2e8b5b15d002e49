"""A zoo of tiny causal LMs built from local text: bases, derivatives and unrelated models.

The tests, the benchmark and the development of the decision rule all build their models with
this one recipe; they differ only in their seeds, so no result is measured on models the rule was
tuned on:

==============  ===========
seeds           used by
==============  ===========
0 – 99          tests
2000 – 2099     benchmark
5000 – 5999     development of the decision rules (never in tests or benchmark)
==============  ===========

Text comes from the docstrings of the running Python's standard library (nothing is downloaded):
``pretrain`` text for the bases, ``alt`` and ``other`` for bases and models on other data,
``overlap`` (half ``pretrain``, half ``other``) for a model whose data overlaps a base's,
``finetune`` for continued pre-training, ``chat`` for chat-format SFT (ChatML turns built from
the ``finetune`` docstrings), a *teacher*'s sampled outputs for a distillation-like run, and
policy-gradient RL on a model's own answers to the ``chat`` questions (:func:`reinforce`).
Every model is saved as a Hugging Face folder (``config.json``, ``model.safetensors``, tokenizer
files with a ChatML chat template): what a reference or ``serve-reference`` loads.

torch, transformers and tokenizers are imported inside the functions that need them.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

_CORPORA: dict[str, tuple[str, ...]] = {
    "pretrain": (
        "argparse", "collections", "json", "pathlib", "subprocess", "threading", "logging",
        "typing", "unittest", "functools", "itertools", "contextlib", "dataclasses", "enum",
    ),
    "finetune": ("decimal", "fractions", "statistics", "heapq", "bisect", "random", "textwrap"),
    "other": ("email.message", "http.client", "tarfile", "zipfile", "csv", "configparser",
              "sqlite3", "shutil", "difflib"),
    "alt": ("os", "re", "string", "datetime", "calendar", "pprint", "copy", "weakref", "abc",
            "operator", "queue", "sched", "inspect", "tokenize"),
    "overlap": ("argparse", "collections", "json", "pathlib", "subprocess", "threading",
                "logging", "email.message", "http.client", "tarfile", "zipfile", "csv"),
}  # fmt: skip


@cache
def corpus(name: str) -> str:
    """Docstrings of the standard-library modules named by corpus ``name``, in a stable order
    (``chat``: the ``finetune`` docstrings as ChatML question/answer turns)."""
    if name == "chat":
        return chat_corpus()
    parts: list[str] = []
    for module_name in _CORPORA[name]:
        with warnings.catch_warnings():  # typing.io & co. warn when their members are listed
            warnings.simplefilter("ignore", DeprecationWarning)
            parts.extend(_docstrings(module_name))
    return "\n\n".join(parts)


def chat_corpus() -> str:
    """ChatML conversations: a user asks what a ``finetune`` item does, the assistant answers
    with its docstring (what chat-format SFT data looks like, on text the bases never saw)."""
    turns = []
    for doc in corpus("finetune").split("\n\n"):
        first = doc.strip().split("\n", 1)[0][:80]
        if len(doc) < 60 or not first:
            continue
        turns.append(
            f"<|im_start|>user\nWhat does this do: {first}?<|im_end|>\n"
            f"<|im_start|>assistant\n{doc.strip()}<|im_end|>\n"
        )
    return "".join(turns)


def _docstrings(module_name: str) -> list[str]:
    """The module's docstring and those of its public functions and classes."""
    parts: list[str] = []
    module = importlib.import_module(module_name)
    if module.__doc__:
        parts.append(inspect.cleandoc(module.__doc__))
    for _, obj in sorted(inspect.getmembers(module), key=lambda kv: kv[0]):
        if inspect.isfunction(obj) or inspect.isclass(obj):
            doc = inspect.getdoc(obj)
            if doc and len(doc) > 40:
                parts.append(doc)
    return parts


def train_tokenizer(text: str, vocab_size: int = 512, *, full_alphabet: bool = True) -> Any:
    """A byte-level BPE trained on ``text``, wrapped as ``PreTrainedTokenizerFast`` with ChatML.

    ``full_alphabet``: all 256 byte tokens are in the vocabulary whether ``text`` uses them or
    not (the usual byte-level BPE; the unused ones are rows no model of the zoo ever trains, a
    clear low-norm cluster). Without it only the bytes of ``text`` are, so every row is trained
    by a model on that text, the rare ones a little (no gap in the norms)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet() if full_alphabet else [],
        show_progress=False,
    )
    tok.train_from_iterator([text], trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def tiny_config(arch: str, vocab_size: int, *, hidden: int = 48) -> Any:
    """A tiny config of architecture ``arch`` (2 layers, 4 experts for the MoE ones)."""
    import transformers

    heads = 4
    common: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "num_hidden_layers": 2,
        "num_attention_heads": heads,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "tie_word_embeddings": False,
        "pad_token_id": 0,
        "bos_token_id": None,
        "eos_token_id": 2,
    }
    if arch == "qwen3_moe":
        return transformers.Qwen3MoeConfig(
            **common, intermediate_size=2 * hidden, moe_intermediate_size=hidden,
            num_experts=4, num_experts_per_tok=2, head_dim=hidden // heads,
        )  # fmt: skip
    if arch == "deepseek_v3":
        common["num_key_value_heads"] = heads  # MLA: one latent, every head reads it
        return transformers.DeepseekV3Config(
            **common, intermediate_size=2 * hidden, moe_intermediate_size=hidden,
            n_routed_experts=4, num_experts_per_tok=2, n_shared_experts=1, n_group=1,
            topk_group=1, first_k_dense_replace=1, kv_lora_rank=16, q_lora_rank=24,
            qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=12, head_dim=8,
        )  # fmt: skip
    if arch == "mixtral":
        return transformers.MixtralConfig(
            **common, intermediate_size=hidden, num_local_experts=4, num_experts_per_tok=2
        )
    if arch == "gpt_oss":
        return transformers.GptOssConfig(
            **common, intermediate_size=hidden, num_local_experts=4, num_experts_per_tok=2,
            head_dim=hidden // heads, sliding_window=64, layer_types=["sliding_attention",
            "full_attention"],
        )  # fmt: skip
    if arch == "glm4_moe":
        return transformers.Glm4MoeConfig(
            **common, intermediate_size=2 * hidden, moe_intermediate_size=hidden,
            n_routed_experts=4, num_experts_per_tok=2, n_shared_experts=1, n_group=1,
            topk_group=1, first_k_dense_replace=1, head_dim=hidden // heads,
        )  # fmt: skip
    if arch == "olmoe":
        return transformers.OlmoeConfig(
            **common, intermediate_size=hidden, num_experts=4, num_experts_per_tok=2
        )
    if arch == "llama":
        return transformers.LlamaConfig(**common, intermediate_size=2 * hidden)
    raise ValueError(f"unknown tiny architecture {arch!r}")


def init_model(arch: str, vocab_size: int, seed: int, *, hidden: int = 48) -> Any:
    """A freshly initialised tiny model; the seed fixes its weights."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, vocab_size, hidden=hidden))
    return model.float()


def train(
    model: Any, token_ids: list[int], *, steps: int, lr: float, seed: int,
    batch: int = 16, seq_len: int = 64,
) -> Any:  # fmt: skip
    """Train ``model`` in place for ``steps`` AdamW steps on random windows of ``token_ids``."""
    import torch

    if steps <= 0:
        return model
    gen = torch.Generator().manual_seed(seed)
    data = torch.tensor(token_ids, dtype=torch.long)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        starts = torch.randint(0, len(data) - seq_len - 1, (batch,), generator=gen)
        x = torch.stack([data[s : s + seq_len] for s in starts.tolist()])
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return model


def reward(text: str, stopped: bool) -> float:
    """The RL reward of one sampled answer: the share of its characters that are letters or
    spaces (plain prose), plus 0.5 for ending its turn. A verifiable, arbitrary target, as a
    product maker's reward model is arbitrary to the base."""
    if not text:
        return 0.0
    plain = sum(c.isalpha() or c == " " for c in text) / len(text)
    return plain + (0.5 if stopped else 0.0)


def rl_prompts() -> list[str]:
    """The user turns of the ``chat`` corpus (ChatML, up to the assistant's turn)."""
    marker = "<|im_start|>assistant\n"
    out = []
    for turn in corpus("chat").split("<|im_start|>user\n")[1:]:
        question = turn.split(marker, 1)[0]
        out.append(f"<|im_start|>user\n{question}{marker}")
    return out


def reinforce(
    model: Any, tokenizer: Any, *, steps: int, lr: float, seed: int, batch: int = 8,
    new_tokens: int = 32, temperature: float = 1.0,
) -> Any:  # fmt: skip
    """Policy-gradient RL on the model's own samples (REINFORCE with the batch's mean reward as
    baseline): each step samples ``batch`` answers to ``rl_prompts`` at ``temperature``, scores
    them with :func:`reward` and raises the log-likelihood of the better-than-average ones.
    Tokens trained per step: about ``batch × (prompt + new_tokens)``."""
    import random

    import torch

    if steps <= 0:
        return model
    prompts = rl_prompts()
    rng = random.Random(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    for _ in range(steps):
        picks = [tokenizer(rng.choice(prompts))["input_ids"][-32:] for _ in range(batch)]
        width = max(len(p) for p in picks)
        ids = torch.tensor([[0] * (width - len(p)) + p for p in picks], dtype=torch.long)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in picks])
        model.eval()
        with torch.no_grad():
            out = model.generate(
                ids, attention_mask=mask, do_sample=True, temperature=temperature,
                max_new_tokens=new_tokens, pad_token_id=0, eos_token_id=eos,
            )  # fmt: skip
        gen = out[:, width:]
        rewards = []
        keep = torch.zeros_like(gen, dtype=torch.bool)
        for row, tokens in enumerate(gen.tolist()):
            stop = tokens.index(eos) + 1 if eos in tokens else len(tokens)
            keep[row, :stop] = True
            rewards.append(reward(tokenizer.decode(tokens[:stop], skip_special_tokens=True),
                                  eos in tokens))  # fmt: skip
        r = torch.tensor(rewards)
        advantage = r - r.mean()
        if float(advantage.abs().sum()) == 0.0:
            continue
        model.train()
        full_mask = torch.cat([mask, keep.long()], dim=1)
        logits = model(input_ids=out, attention_mask=full_mask).logits[:, width - 1 : -1]
        logp = torch.log_softmax(logits.float(), -1).gather(-1, gen.unsqueeze(-1)).squeeze(-1)
        loss = -((logp * keep).sum(1) * advantage).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return model


@dataclass(frozen=True)
class Recipe:
    """How one zoo model is made: a fresh init (or a parent folder) plus training on one corpus."""

    name: str
    seed: int
    corpus: str = "pretrain"
    steps: int = 120
    lr: float = 3e-3
    arch: str = "qwen3_moe"
    parent: str | None = None  # name of the model this one is further trained from
    teacher: str | None = None  # train on this zoo model's sampled outputs (distillation-like)
    rl_steps: int = 0  # then policy-gradient RL on its own samples (:func:`reinforce`)
    rl_lr: float = 1e-3

    @property
    def distance(self) -> float:
        """Training distance of a derivative from its parent: ``steps × lr``."""
        return self.steps * self.lr


VOCABS = {
    # name: (corpora the tokenizer is trained on, all 256 byte tokens in the vocabulary)
    "pretrain": (("pretrain",), True),
    # the union of the bases' corpora (each base then sees only part of what built its vocabulary)
    "union": (("pretrain", "alt", "other"), False),
    # exactly the text of the bases on ``pretrain`` (every token seen by them, rare ones rarely)
    "own": (("pretrain",), False),
}


class Zoo:
    """Builds and caches zoo models under ``root`` (one shared tokenizer per zoo).

    ``vocab`` names how the tokenizer is built (:data:`VOCABS`): real vocabularies sit between a
    full byte alphabet with unused bytes (a clear cluster of never-trained rows) and one built on
    exactly the training text (no gap in the sorted embedding norms)."""

    def __init__(self, root: Path, *, vocab_size: int = 512, vocab: str = "pretrain") -> None:
        if vocab not in VOCABS:
            raise ValueError(f"unknown zoo vocabulary {vocab!r}")
        self.root = Path(root)
        self.vocab_size = vocab_size
        self.vocab = vocab
        self._tokenizer: Any = None
        self._ids: dict[str, list[int]] = {}

    @property
    def tokenizer(self) -> Any:
        """The zoo's tokenizer, built as ``vocab`` says (saved once under root)."""
        if self._tokenizer is None:
            from transformers import PreTrainedTokenizerFast

            folder = self.root / "_tokenizer"
            if (folder / "tokenizer.json").is_file():
                self._tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
            else:
                names, full = VOCABS[self.vocab]
                text = "\n\n".join(corpus(n) for n in names)
                self._tokenizer = train_tokenizer(text, self.vocab_size, full_alphabet=full)
                self._tokenizer.save_pretrained(folder)
        return self._tokenizer

    def token_ids(self, corpus_name: str) -> list[int]:
        """``corpus_name`` encoded with the zoo tokenizer."""
        if corpus_name not in self._ids:
            self._ids[corpus_name] = self.tokenizer(corpus(corpus_name))["input_ids"]
        return self._ids[corpus_name]

    def build(self, recipe: Recipe) -> Path:
        """The folder of ``recipe``'s model, built (and its parent first) unless already there."""
        folder = self.root / recipe.name
        if (folder / "model.safetensors").is_file():
            return folder
        from transformers import AutoModelForCausalLM

        if recipe.parent is not None:
            model = AutoModelForCausalLM.from_pretrained(self.root / recipe.parent).float()
        else:
            model = init_model(recipe.arch, len(self.tokenizer), recipe.seed)
        data = (
            self.teacher_ids(recipe.teacher, recipe.seed)
            if recipe.teacher
            else self.token_ids(recipe.corpus)
        )
        train(model, data, steps=recipe.steps, lr=recipe.lr, seed=recipe.seed)
        reinforce(model, self.tokenizer, steps=recipe.rl_steps, lr=recipe.rl_lr, seed=recipe.seed)
        model.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        return folder

    def teacher_ids(
        self, teacher: str, seed: int, *, samples: int = 160, length: int = 96
    ) -> list[int]:
        """Token ids sampled from zoo model ``teacher`` (temperature 1), each continuing a
        window of the ``pretrain`` text: the training data of a distillation-like derivative."""
        import torch
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(self.root / teacher).float().eval()
        prompts = self.token_ids("pretrain")
        gen = torch.Generator().manual_seed(seed)
        starts = torch.randint(0, len(prompts) - 9, (samples,), generator=gen).tolist()
        torch.manual_seed(seed)
        batch = torch.tensor([prompts[s : s + 8] for s in starts], dtype=torch.long)
        with torch.no_grad():
            out = model.generate(
                batch, do_sample=True, max_new_tokens=length, pad_token_id=0,
                attention_mask=torch.ones_like(batch),
            )  # fmt: skip
        return [int(t) for row in out.tolist() for t in row]


def foreign_tokenizer_model(root: Path, *, seed: int, arch: str = "llama", steps: int = 60) -> Path:
    """A model with its own, different tokenizer (a byte-level BPE of another size and text)."""
    folder = Path(root)
    if (folder / "model.safetensors").is_file():
        return folder
    tok = train_tokenizer(corpus("other"), 384)
    model = init_model(arch, len(tok), seed)
    train(model, tok(corpus("other"))["input_ids"], steps=steps, lr=3e-3, seed=seed)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder
