"""In-process reference: a Hugging Face folder (safetensors) run with ``transformers`` + ``torch``.

CUDA with bf16 when a GPU is present, CPU float32 otherwise. Sequences are scored in batches
(right padding, attention mask) under a token budget; the log-softmax is taken only at the
requested positions, in float32. Loading fails with one line naming the folder when the folder
is not a causal LM, has no weights, or does not fit in the available memory.

Memory is bounded by construction, not by the length of what is scored: a batch runs through the
model's own forward a chunk of positions at a time (the key/value cache carries the prefix, as in
``generate``'s chunked prefill), so the ``[rows, vocabulary]`` logits of one forward never exceed
``logits_budget`` bytes as float32 (512 MiB by default; ``serve-reference`` uses 64 MiB), nor
``token_budget`` rows; only each position's top-k and requested log-probabilities leave the
chunk. Greedy generation prefills in chunks of the same size. What one call holds at once is
therefore the key/value cache of its batch, one chunk's activations and at most three
``logits_budget``-sized matrices (the chunk's logits, the rows selected, their log-softmax).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from provenance.errors import FingerprintError, MissingDependencyError, UsageError
from provenance.optional import DISTRIBUTION
from provenance.reference.base import PositionLogprobs, ReferenceModel, build_vocab, check_positions

TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
    "tokenizer.model", "vocab.json", "merges.txt", "tiktoken.model",
)  # fmt: skip
_FULL_HASH_LIMIT = 64 << 20  # weight files above this are digested from header + sampled chunks
LOGITS_BUDGET = 512 << 20  # bytes of one forward's float32 logits (rows × vocabulary)
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "F4": 1}  # fmt: skip


def weight_files(folder: Path) -> list[Path]:
    """The folder's ``*.safetensors`` files, sorted."""
    return sorted(folder.glob("*.safetensors"))


def _safetensors_header(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        return json.loads(fh.read(n))


def parameter_count(folder: Path) -> int:
    """Number of parameters stored in the folder's safetensors files (read from their headers)."""
    total = 0
    for path in weight_files(folder):
        for key, meta in _safetensors_header(path).items():
            if key == "__metadata__":
                continue
            n = 1
            for d in meta["shape"]:
                n *= int(d)
            total += n
    return total


def folder_identity(folder: Path) -> str:
    """sha256 over config, tokenizer files and weights (large weight files: header + samples)."""
    h = hashlib.sha256(b"provenance.reference/1\0")
    for name in ("config.json", "generation_config.json", *TOKENIZER_FILES):
        p = folder / name
        if p.is_file():
            h.update(name.encode() + b"\0" + p.read_bytes() + b"\0")
    for path in weight_files(folder):
        size = path.stat().st_size
        h.update(f"{path.name}\0{size}\0".encode())
        with path.open("rb") as fh:
            if size <= _FULL_HASH_LIMIT:
                h.update(fh.read())
                continue
            for i in range(16):  # header, then 16 evenly spaced 1 MiB samples
                fh.seek(0 if i == 0 else (size - (1 << 20)) * i // 15)
                h.update(fh.read(1 << 20))
    return h.hexdigest()


def available_memory(device: str) -> int | None:
    """Free bytes on ``device`` ("cuda" or "cpu"), or None when unknown."""
    if device == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def check_folder(folder: Path) -> dict[str, Any]:
    """Validate a reference folder before loading it; return its config dict.

    Raises ``UsageError`` (one line naming the folder) for: not a folder, no config, not a causal
    LM architecture, no safetensors weights.
    """
    if not folder.is_dir():
        raise UsageError(f"reference {folder}: not a directory; pass a Hugging Face model folder")
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise UsageError(f"reference {folder}: no config.json; pass a Hugging Face model folder")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"reference {folder}: config.json is unreadable ({exc})") from exc
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    model_type = config.get("model_type")
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise UsageError(
            f"reference {folder}: model_type {model_type!r} is not a causal language model "
            "transformers can load; pass a causal LM folder"
        )
    if not weight_files(folder):
        raise UsageError(f"reference {folder}: no *.safetensors weights; download or convert them")
    return config


class TransformersReference(ReferenceModel):
    """A reference loaded in this process from a Hugging Face folder."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        name: str | None = None,
        device: str | None = None,
        token_budget: int = 8192,
        logits_budget: int = LOGITS_BUDGET,
    ) -> None:
        try:
            import torch
            import transformers  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError(
                "logit fingerprints need torch and transformers: pip install "
                f"'{DISTRIBUTION}[logits]'"
            ) from exc
        self.folder = Path(folder).resolve()
        self.name = name or self.folder.name
        check_folder(self.folder)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        self.token_budget = token_budget
        self.logits_budget = logits_budget
        self._lock = threading.Lock()
        self._identity: str | None = None
        self._vocab: dict[str, int] | None = None
        self._check_memory()
        self.tokenizer = self._load_tokenizer()
        self.model = self._load_model()
        params = inspect.signature(self.model.forward).parameters
        self._cache_key = "cache" if "cache" in params else "past_key_values"  # transformers 5.x

    # -- loading -------------------------------------------------------------------------------
    def _check_memory(self) -> None:
        need = parameter_count(self.folder) * (4 if self.device == "cpu" else 2)
        free = available_memory("cuda" if self.device.startswith("cuda") else "cpu")
        if free is not None and need > free:
            raise FingerprintError(
                f"reference {self.folder}: needs about {need / 2**30:.1f} GiB on {self.device} but "
                f"{free / 2**30:.1f} GiB is free; serve it with vLLM/SGLang, use --reference-server"
            )

    def _load_tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(self.folder)
        except Exception as exc:  # transformers raises many types here
            raise UsageError(f"reference {self.folder}: cannot load its tokenizer ({exc})") from exc

    def _load_model(self) -> Any:
        import torch
        from transformers import AutoModelForCausalLM

        try:
            model = AutoModelForCausalLM.from_pretrained(self.folder, dtype=self.dtype)
            model.to(self.device)
        except torch.OutOfMemoryError as exc:
            raise FingerprintError(
                f"reference {self.folder}: out of memory on {self.device} while loading; "
                "host it with vLLM/SGLang and use --reference-server"
            ) from exc
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"reference {self.folder}: cannot load its weights ({exc})") from exc
        model.eval()
        return model

    # -- interface -----------------------------------------------------------------------------
    @property
    def identity(self) -> str:
        if self._identity is None:
            self._identity = folder_identity(self.folder)
        return self._identity

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        return [self.tokenizer.decode([i], clean_up_tokenization_spaces=False) for i in ids]

    def vocab(self) -> Mapping[str, int]:
        if self._vocab is None:
            self._vocab = build_vocab(self.token_strings(range(len(self.tokenizer))))
        return self._vocab

    def vocab_size(self) -> int:
        return max(len(self.tokenizer), int(self.model.config.vocab_size))

    def embedding_norms(self) -> list[float] | None:
        import torch

        with self._lock, torch.no_grad():
            weight = self.model.get_input_embeddings().weight
            return [float(x) for x in weight.float().norm(dim=1).cpu()]

    def embedding_rows(self, ids: Sequence[int]) -> list[list[float]] | None:
        import torch

        with self._lock, torch.no_grad():
            weight = self.model.get_input_embeddings().weight
            index = torch.tensor(list(ids), dtype=torch.long, device=weight.device)
            return [[float(x) for x in row] for row in weight[index].float().cpu()]

    def apply_chat_template(
        self, messages: Sequence[Mapping[str, str]], *, add_generation_prompt: bool = True
    ) -> list[int]:
        text = self.render_chat(messages, add_generation_prompt=add_generation_prompt)
        return self.tokenize(text)

    def render_chat(
        self, messages: Sequence[Mapping[str, str]], *, add_generation_prompt: bool = True
    ) -> str:
        """``messages`` rendered with the chat template, as text (what
        :meth:`apply_chat_template` tokenizes, without special tokens, as transformers does).
        Raises ``UsageError`` when the tokenizer has no template, jinja2's ``TemplateError``
        when the template refuses the messages."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise UsageError(f"reference {self.folder}: its tokenizer has no chat template")
        text = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], add_generation_prompt=add_generation_prompt, tokenize=False
        )
        return text if isinstance(text, str) else str(text[0])

    def chunk_rows(self) -> int:
        """Rows of logits (sequences × positions) one forward may produce: ``logits_budget``
        bytes of float32 over the vocabulary, at most ``token_budget``, at least 1."""
        per_row = 4 * max(1, self.vocab_size())
        return max(1, min(self.token_budget, self.logits_budget // per_row))

    def score(
        self,
        sequences: Sequence[Sequence[int]],
        positions: Sequence[Sequence[int]] | None = None,
        *,
        top_k: int = 20,
    ) -> list[list[PositionLogprobs]]:
        import torch

        wanted = check_positions(sequences, positions)
        found: list[dict[int, PositionLogprobs]] = [{} for _ in sequences]

        def visit(i: int, ns: list[int], lp: Any) -> None:
            actual = [sequences[i][wanted[i][n]] for n in ns]
            index = torch.tensor(actual, dtype=torch.long, device=lp.device)[:, None]
            act_lp = lp.gather(1, index)[:, 0].cpu().tolist()
            top = lp.topk(min(top_k, lp.shape[-1]), dim=-1)
            top_ids, top_vals = top.indices.cpu().tolist(), top.values.cpu().tolist()
            for m, n in enumerate(ns):
                found[i][n] = PositionLogprobs(
                    wanted[i][n], int(actual[m]), float(act_lp[m]),
                    tuple(zip(top_ids[m], top_vals[m], strict=True)),
                )  # fmt: skip

        self._scan(sequences, wanted, visit)
        return [[found[i][n] for n in range(len(wanted[i]))] for i in range(len(sequences))]

    def score_tokens(
        self,
        sequences: Sequence[Sequence[int]],
        positions: Sequence[Sequence[int]],
        candidates: Sequence[Sequence[Sequence[int]]],
    ) -> list[list[list[float]]]:
        import torch

        wanted = check_positions(sequences, positions)
        found: list[dict[int, list[float]]] = [{} for _ in sequences]

        def visit(i: int, ns: list[int], lp: Any) -> None:
            rows = [m for m, n in enumerate(ns) for _ in candidates[i][n]]
            cols = [t for n in ns for t in candidates[i][n]]
            at = {"dtype": torch.long, "device": lp.device}
            flat = lp[torch.tensor(rows, **at), torch.tensor(cols, **at)]
            values = flat.cpu().tolist()
            start = 0
            for n in ns:
                width = len(candidates[i][n])
                found[i][n] = values[start : start + width]
                start += width

        self._scan(sequences, wanted, visit)
        return [[found[i][n] for n in range(len(wanted[i]))] for i in range(len(sequences))]

    def _scan(
        self,
        sequences: Sequence[Sequence[int]],
        wanted: list[list[int]],
        visit: Callable[[int, list[int], Any], None],
    ) -> None:
        """Call ``visit(i, ns, lp)`` until every requested position has been seen once: ``lp`` is
        the float32 ``[len(ns), vocab]`` log-softmax at positions ``wanted[i][n]``, ``n`` in
        ``ns``, on the model's device. Batches hold at most ``token_budget`` tokens and at most
        :meth:`chunk_rows` sequences (shortest sequences first)."""
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        most = self.chunk_rows()
        batch: list[int] = []
        longest = 0
        for i in order:
            if not wanted[i]:
                continue
            longest = max(longest, len(sequences[i]))
            if batch and (longest * (len(batch) + 1) > self.token_budget or len(batch) >= most):
                self._scan_batch(sequences, wanted, batch, visit)
                batch, longest = [], len(sequences[i])
            batch.append(i)
        if batch:
            self._scan_batch(sequences, wanted, batch, visit)

    def _scan_batch(
        self,
        sequences: Sequence[Sequence[int]],
        wanted: list[list[int]],
        batch: list[int],
        visit: Callable[[int, list[int], Any], None],
    ) -> None:
        """One batch, ``chunk_rows() // len(batch)`` positions per forward; the prefix of each
        chunk is in the key/value cache. The logits at index ``j - 1`` predict position ``j``."""
        import torch

        # (index of the logits row, n) per sequence, in the order the chunks reach them
        needs = [sorted((j - 1, n) for n, j in enumerate(wanted[i])) for i in batch]
        width = max(need[-1][0] for need in needs) + 1  # no forward past the last logits needed
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            seq = torch.tensor(list(sequences[i][:width]), dtype=torch.long)
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        step = max(1, self.chunk_rows() // len(batch))
        cursor = [0] * len(batch)
        with self._lock, torch.inference_mode():
            cache = None
            for start in range(0, width, step):
                end = min(width, start + step)
                kwargs: dict[str, Any] = {"use_cache": width > step}
                if cache is not None:
                    kwargs[self._cache_key] = cache
                try:
                    out = self.model(
                        input_ids=ids[:, start:end], attention_mask=mask[:, :end], **kwargs
                    )
                except torch.OutOfMemoryError as exc:
                    raise FingerprintError(
                        f"reference {self.folder}: out of memory while scoring; lower the token "
                        "budget or the logits budget"
                    ) from exc
                cache = getattr(out, self._cache_key, None)
                logits = out.logits
                del out
                for row, i in enumerate(batch):
                    need, first = needs[row], cursor[row]
                    last = first
                    while last < len(need) and need[last][0] < end:
                        last += 1
                    if last == first:
                        continue
                    cursor[row] = last
                    local = [k - start for k, _ in need[first:last]]
                    lo, hi = local[0], local[-1] + 1
                    if hi - lo == len(local):  # consecutive rows (the usual case): a view
                        picked = logits[row, lo:hi]
                    else:
                        picked = logits[row].index_select(
                            0, torch.tensor(local, device=logits.device)
                        )
                    lp = torch.log_softmax(picked.float(), -1)
                    visit(i, [n for _, n in need[first:last]], lp)
                    del picked, lp
                del logits

    def generate_greedy(self, ids: Sequence[int], max_new_tokens: int) -> tuple[list[int], bool]:
        """Greedy continuation of ``ids``: (new ids, whether it stopped at an end-of-sequence id).

        Plain argmax decoding: the folder's generation_config (sampling, penalties) is ignored.
        """
        import torch
        from transformers import GenerationConfig

        if max_new_tokens <= 0:
            return [], False
        eos = self.tokenizer.eos_token_id
        eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        config = GenerationConfig(
            do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=eos_ids or None,
            prefill_chunk_size=self.chunk_rows() if len(ids) > self.chunk_rows() else None,
            pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None
            else (eos_ids[0] if eos_ids else 0),
        )  # fmt: skip
        inputs = torch.tensor([list(ids)], dtype=torch.long, device=self.device)
        with self._lock, torch.inference_mode():
            out = self.model.generate(
                input_ids=inputs, attention_mask=torch.ones_like(inputs), generation_config=config
            )
        new = [int(i) for i in out[0, len(ids) :].tolist()]
        for n, tid in enumerate(new):
            if tid in eos_ids:
                return new[: n + 1], True
        return new, False

    def close(self) -> None:
        self.model = None
