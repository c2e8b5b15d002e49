#!/usr/bin/env bash
# bench/gpu.sh — reference-scoring throughput of a realistic MoE layout on one GPU (or the CPU).
#
# Self-contained: needs only python3 with torch and transformers (written for Python 3.12,
# torch 2.11, transformers 5.17; no network, no project code — it never imports provenance).
#
#   bash bench/gpu.sh                 # GPU if present, else a shrunken CPU run
#   GPU_SH_QUICK=1 bash bench/gpu.sh  # smallest sizes (smoke test, used by the test suite)
#   PYTHON=/path/to/python bash bench/gpu.sh
#
# What it does (within ~5 minutes on an H200):
#   1. builds a randomly initialised DeepSeek-V3 / Kimi-K2 layout (MLA attention, 1 dense layer
#      then MoE layers with 1 shared + 8 of N routed experts, hidden 7168, vocab 163840) with a
#      few layers, as many routed experts as fit comfortably in free GPU memory (up to 256), bf16;
#   2. measures teacher-forced scoring throughput (log-softmax at every position, top-20), and
#      single-token forward latency, against the memory-bandwidth bound of the parameters a token
#      activates (nominal H200 4.8 TB/s, and the copy bandwidth measured here);
#   3. checks that GPU and CPU scores of a small model agree (float32 and bfloat16 on the GPU
#      against float32 on the CPU);
#   4. estimates, from that throughput, the reference-side cost of one run of the default logit
#      method (32 probes x 256 tokens, scored once and under 40 permutations), and measures the
#      chat paths' (32 user turns with 64-token answers, 336 tokens each, the same 41 passes);
#   5. prints a short table LAST.
set -euo pipefail
PY="${PYTHON:-python3}"
exec "$PY" - "$@" <<'PYEOF'
import gc
import math
import os
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, DeepseekV3Config

transformers.logging.set_verbosity_error()
QUICK = os.environ.get("GPU_SH_QUICK") == "1"
CUDA = torch.cuda.is_available() and os.environ.get("GPU_SH_FORCE_CPU") != "1"
DEV = "cuda" if CUDA else "cpu"
NOMINAL_BW = 4.8e12 if CUDA else None  # H200 HBM3e; None: unknown for this CPU
T_START = time.time()
rows = []  # (what, value, note)


def log(msg):
    print(f"[gpu.sh {time.time() - T_START:6.1f}s] {msg}", file=sys.stderr, flush=True)


def human(n, unit=""):
    for scale, suffix in ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{suffix}{unit}"
    return f"{n:.0f} {unit}".strip()


def sync():
    if CUDA:
        torch.cuda.synchronize()


def config(hidden, layers, experts, vocab, inter, moe_inter, heads, q_lora, kv_lora):
    return DeepseekV3Config(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=inter,
        moe_intermediate_size=moe_inter, num_hidden_layers=layers, num_attention_heads=heads,
        num_key_value_heads=heads, n_shared_experts=1, n_routed_experts=experts,
        num_experts_per_tok=min(8, experts), n_group=8 if experts >= 64 else 1,
        topk_group=4 if experts >= 64 else 1,
        first_k_dense_replace=1, q_lora_rank=q_lora, kv_lora_rank=kv_lora, qk_rope_head_dim=64,
        qk_nope_head_dim=128, v_head_dim=128, max_position_embeddings=4096,
        tie_word_embeddings=False, pad_token_id=0, bos_token_id=0, eos_token_id=1,
    )


def param_counts(cfg):
    """(total, active per token) parameter counts of a DeepSeek-V3 config (embedding excluded
    from active: one row is read per token)."""
    h, heads = cfg.hidden_size, cfg.num_attention_heads
    qk = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim
    attn = (h * cfg.q_lora_rank + cfg.q_lora_rank * heads * qk
            + h * (cfg.kv_lora_rank + cfg.qk_rope_head_dim)
            + cfg.kv_lora_rank * heads * (cfg.qk_nope_head_dim + cfg.v_head_dim)
            + heads * cfg.v_head_dim * h)
    dense = 3 * h * cfg.intermediate_size
    expert = 3 * h * cfg.moe_intermediate_size
    n_moe = cfg.num_hidden_layers - cfg.first_k_dense_replace
    n_dense = cfg.first_k_dense_replace
    embed = cfg.vocab_size * h
    total = (cfg.num_hidden_layers * attn + n_dense * dense
             + n_moe * (cfg.n_routed_experts + cfg.n_shared_experts) * expert
             + n_moe * h * cfg.n_routed_experts + 2 * embed)
    active = (cfg.num_hidden_layers * attn + n_dense * dense
              + n_moe * (cfg.num_experts_per_tok + cfg.n_shared_experts) * expert + embed)
    return total, active


def copy_bandwidth():
    n = (1 << 28) if CUDA else (1 << 25)  # elements (bf16 on GPU: 512 MiB; CPU: 64 MiB)
    a = torch.empty(n, dtype=torch.bfloat16, device=DEV)
    b = torch.empty_like(a)
    b.copy_(a); sync()
    reps = 20 if CUDA else 5
    t0 = time.perf_counter()
    for _ in range(reps):
        b.copy_(a)
    sync()
    return 2 * a.numel() * a.element_size() * reps / (time.perf_counter() - t0)


def build(cfg, dtype, device):
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    return model.eval()


def score(model, ids, top_k=20):
    logits = model(input_ids=ids).logits
    lp = torch.log_softmax(logits.float(), dim=-1)
    return lp, lp.topk(top_k, dim=-1)


def main():
    log(f"python {sys.version.split()[0]}, torch {torch.__version__}, transformers "
        f"{transformers.__version__}, device {torch.cuda.get_device_name(0) if CUDA else 'cpu'}")
    bw = copy_bandwidth()
    rows.append(("device", torch.cuda.get_device_name(0) if CUDA else f"cpu x{os.cpu_count()}", ""))
    rows.append(("copy bandwidth (measured)", human(bw, "B/s"), "read+write of a bf16 buffer"))

    # 1. the big model -----------------------------------------------------------------------
    if CUDA and not QUICK:
        free, _ = torch.cuda.mem_get_info()
        experts = 256
        while experts > 8:
            cfg = config(7168, 3, experts, 163840, 18432, 2048, 64, 1536, 512)
            if param_counts(cfg)[0] * 2 < 0.55 * free:
                break
            experts //= 2
        batch, seq = 8, 512
        dtype = torch.bfloat16
    elif CUDA:
        cfg = config(2048, 2, 16, 32768, 4096, 512, 16, 512, 256)
        batch, seq, dtype = 4, 128, torch.bfloat16
    else:
        small = QUICK
        cfg = config(256 if small else 1024, 2, 8 if small else 16, 4096 if small else 16384,
                     512 if small else 2048, 128 if small else 512, 4 if small else 8,
                     64 if small else 256, 32 if small else 128)
        batch, seq = (2, 64) if small else (2, 256)
        dtype = torch.float32
    total, active = param_counts(cfg)
    log(f"building DeepSeek-V3 layout: hidden {cfg.hidden_size}, {cfg.num_hidden_layers} layers, "
        f"{cfg.n_routed_experts} routed experts, {human(total)} params ({dtype})")
    t0 = time.perf_counter()
    model = build(cfg, dtype, DEV)
    real_total = sum(p.numel() for p in model.parameters())
    log(f"built in {time.perf_counter() - t0:.1f}s ({human(real_total)} params)")
    bytes_per = torch.finfo(dtype).bits // 8
    ids = torch.randint(2, cfg.vocab_size, (batch, seq), device=DEV)
    with torch.inference_mode():
        score(model, ids[:1, :16]); sync()
        reps = 3 if CUDA else 1
        t0 = time.perf_counter()
        for _ in range(reps):
            score(model, ids)
        sync()
        prefill_s = (time.perf_counter() - t0) / reps
        one = ids[:1, :1]
        for _ in range(2):
            model(input_ids=one)
        sync()
        steps = 10 if CUDA else 3
        t0 = time.perf_counter()
        for _ in range(steps):
            model(input_ids=one)
        sync()
        step_s = (time.perf_counter() - t0) / steps
        # the chat paths score the user turn (probe of 256 tokens + template) plus a 64-token
        # answer, teacher-forced, once and under 40 permutations: sequences of 336 tokens
        chat_seq = 336
        chat_batch = max(1, batch * seq // chat_seq)
        chat_ids = torch.randint(2, cfg.vocab_size, (chat_batch, chat_seq), device=DEV)
        score(model, chat_ids[:1]); sync()
        t0 = time.perf_counter()
        for _ in range(reps):
            score(model, chat_ids)
        sync()
        chat_tps = chat_batch * chat_seq / ((time.perf_counter() - t0) / reps)
    tps = batch * seq / prefill_s
    bw_ref = NOMINAL_BW or bw
    bound_step = active * bytes_per / bw_ref
    rows.append(("model", f"DeepSeek-V3 layout, hidden {cfg.hidden_size}, {cfg.num_hidden_layers} "
                 f"layers, {cfg.n_routed_experts}+1 experts ({cfg.num_experts_per_tok} routed active)", str(dtype).replace("torch.", "")))
    rows.append(("parameters total / active per token", f"{human(real_total)} / {human(active)}",
                 f"{human(active * bytes_per, 'B')} read per single-token step"))
    rows.append(("scoring throughput (batch x seq)", f"{tps:,.0f} tokens/s",
                 f"{batch}x{seq}, log-softmax + top-20 at every position"))
    rows.append(("single-token forward", f"{step_s * 1e3:.1f} ms",
                 f"bandwidth bound {bound_step * 1e3:.2f} ms at "
                 f"{human(bw_ref, 'B/s')} ({'nominal' if NOMINAL_BW else 'measured'})"))
    rows.append(("single-token efficiency vs bound", f"{bound_step / step_s:.1%}",
                 f"bound = {1 / bound_step:,.0f} tokens/s for one sequence"))
    rows.append(("scoring vs one-token bound", f"{tps * bound_step:.1f}x",
                 "batched teacher forcing reads the weights once per pass"))
    # the default logit method scores 32 probes of 256 tokens, then 40 permutations of them
    null_tokens = 41 * 32 * 256
    rows.append(("under-trained-token run, per reference", f"{null_tokens / tps:.1f} s",
                 f"{null_tokens:,} tokens (probes + 40 permutations) at the throughput above, "
                 "these layers only"))
    chat_tokens = 41 * 32 * 336
    rows.append(("under-trained chat run, per reference", f"{chat_tokens / chat_tps:.1f} s",
                 f"{chat_tokens:,} tokens (32 turns + 64-token answers, 40 permutations) at "
                 f"{chat_tps:,.0f} tokens/s measured at length 336"))
    del model
    gc.collect()
    if CUDA:
        torch.cuda.empty_cache()

    # 2. GPU vs CPU agreement on a small model -------------------------------------------------
    small = config(256, 2, 8, 4096, 512, 128, 4, 64, 32)
    cpu_model = build(small, torch.float32, "cpu")
    ids = torch.randint(2, small.vocab_size, (2, 64))
    with torch.inference_mode():
        ref_lp, ref_top = score(cpu_model, ids)
        others = []
        if CUDA:
            for dt in (torch.float32, torch.bfloat16):
                m = build(small, dt, "cpu")
                m.load_state_dict(cpu_model.state_dict())
                m.to("cuda")
                lp, top = score(m, ids.to("cuda"))
                others.append((f"cuda {str(dt).replace('torch.', '')}", lp.cpu(), top.indices.cpu()))
        else:
            m = build(small, torch.bfloat16, "cpu")
            m.load_state_dict(cpu_model.state_dict())
            lp, top = score(m, ids)
            others.append(("cpu bfloat16 (no GPU here)", lp, top.indices))
    ok = True
    for name, lp, idx in others:
        diff = (lp - ref_lp).abs()
        top1 = (idx[..., 0] == ref_top.indices[..., 0]).float().mean().item()
        tol = 1e-3 if "float32" in name else 0.15
        agree = diff.mean().item() < tol
        ok &= agree
        rows.append((f"{name} vs cpu float32", f"mean |dlogp| {diff.mean().item():.2e}, "
                     f"max {diff.max().item():.2e}, top-1 {top1:.1%}", "agree" if agree else "DISAGREE"))
    assert not any(m == "provenance" or m.startswith("provenance.") for m in sys.modules)
    rows.append(("wall time", f"{time.time() - T_START:.0f} s", "all steps"))

    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print()
    print(f"{'measure'.ljust(width)} | {'value'.ljust(vwidth)} | note")
    print(f"{'-' * width}-+-{'-' * vwidth}-+-----")
    for what, value, note in rows:
        print(f"{what.ljust(width)} | {value.ljust(vwidth)} | {note}")
    return 0 if ok else 1


sys.exit(main())
PYEOF
