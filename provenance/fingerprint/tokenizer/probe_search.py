"""Offline choice of the probe texts: greedy search for maximal separation between known tokenizers.

The candidate pool mixes scripts, code, digit runs, whitespace runs, emoji and rare Unicode (text
units) plus special-token spellings. Text probes are filled greedily: at each step the unit that
most increases the separation of every pair of tokenizer ids is added, where separation of a pair on
a probe is the difference between their expected differential counts (``count(probe) -
count(baseline)``, counted on the exact full texts). One probe carries every special spelling.
The result is written as data (``fingerprints/probes/tokenizer.json``) by
``provenance signatures probes``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from provenance.tokenizers.handle import TokenizerHandle
from provenance.tokenizers.probes import PROBE_SCHEMA, TAIL, compose

TEXT_UNITS: dict[str, str] = {
    "zh": "机器学习模型的分词器决定了每个请求的计费方式。",
    "ja": "トークナイザーはテキストを小さな単位に分割します。",
    "zh_mix": "在Python中调用API接口v2版本，返回JSON格式的数据。",
    "ja_mix": "東京でGPUクラスタを使いLLMの学習を行う。",
    "ko": "토크나이저는 문장을 작은 조각으로 나눕니다.",
    "ar": "يقوم المحلل اللغوي بتقسيم النص إلى وحدات صغيرة.",
    "he": "המפרק מחלק את הטקסט ליחידות קטנות.",
    "hi": "टोकनाइज़र पाठ को छोटे टुकड़ों में बाँटता है।",
    "th": "ตัวตัดคำแบ่งข้อความออกเป็นหน่วยย่อย",
    "ru": "Токенизатор делит текст на небольшие части.",
    "el": "Ο αναλυτής χωρίζει το κείμενο σε μικρά κομμάτια.",
    "vi": "Bộ tách từ chia văn bản thành các đơn vị nhỏ.",
    "tr": "Belirteçleyici metni küçük parçalara ayırır; ğüşıöç.",
    "ka": "ტოკენიზატორი ტექსტს პატარა ნაწილებად ყოფს.",
    "am": "ቶክናይዘሩ ጽሑፉን ወደ ትናንሽ ክፍሎች ይከፍላል።",
    "ta": "டோக்கனைசர் உரையை சிறிய பகுதிகளாகப் பிரிக்கிறது.",
    "de": "Donaudampfschifffahrtsgesellschaftskapitänsmütze überprüfen",
    "fr_nfd": "e\u0301le\u0300ve, garc\u0327on, na\u0131\u0308ve",
    "py": "def f(xs):\n    return {k: v ** 2 for k, v in enumerate(xs) if v % 3 == 0}",
    "rs": "impl<'a> Iterator for Tok<'a> { type Item = &'a str; "
    "fn next(&mut self) -> Option<Self::Item> { None } }",
    "js": "const x = await fetch(`/api/v1/${id}?q=${encodeURIComponent(q)}`).then(r => r.json());",
    "json": '{"model":"x","messages":[{"role":"user","content":"hi"}],"max_tokens":1}',
    "sql": "SELECT u.id, COUNT(*) AS n FROM users u LEFT JOIN orders o ON o.uid=u.id GROUP BY 1;",
    "html": '<div class="card"><span>&nbsp;&amp;&lt;tag&gt;</span></div>',
    "regex": r"^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+$",
    "d13": "1234567890123",
    "d_pi": "3.14159265358979323846",
    "d_date": "2026-11-29T12:34:56.789Z",
    "d_hex": "0x7fffffff 0xDEADBEEF 0b101101",
    "d_money": "$1,234,567.89 vs €9.876,54",
    "d_phone": "+1 (415) 555-0199 ext. 42",
    "ws_spaces": "a        b                c",
    "ws_tabs": "\t\tx\t\t\ty",
    "ws_mixed": "x \u00a0 \u2003 \u3000 y",
    "ws_blank": "p\n\n\n\nq",
    "emoji": "🤖🧬🦀🐍🚀✨",
    "emoji_zwj": "👨\u200d👩\u200d👧\u200d👦 🏳\ufe0f\u200d🌈 👩🏽\u200d💻",
    "flags": "🇫🇷🇯🇵🇧🇷🇰🇪",
    "math": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∑∫∂∇ ≤≥≠ ℌℭ",
    "box": "┌──┬──┐ │░▒▓│ └──┴──┘",
    "rare": "ꙮ ᚠᚢᚦ 𓀀𓁐 ☃︎ ⁂ ‽",
    "accents": "Ångström façade jalapeño Œuvre Straße",
    "upper": "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "url": "https://example.com/a/b?utm_source=x&id=12345#frag",
    "path": "C:\\Users\\me\\AppData\\Local\\Temp\\x.tmp /usr/local/lib/python3.11",
    "repeat": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "punct": "...!!!???---===***///",
    "camel": "getHTTPResponseCodeFromURLRequestHandlerFactory",
    "snake": "__init_subclass_hook_for_tokenizer_fingerprint__",
}

SPECIAL_SPELLINGS: tuple[str, ...] = (
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|endofprompt|>",
    "<|fim_prefix|>",
    "[INST]",
    "[/INST]",
    "<s>",
    "</s>",
    "[TOOL_CALLS]",
    "<｜begin▁of▁sentence｜>",
    "<｜end▁of▁sentence｜>",
    "<|begin_of_text|>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "<|start|>",
    "<|channel|>",
    "<|message|>",
    "<|return|>",
    "<think>",
    "</think>",
    "<tool_call>",
    "<|newline|>",
    "<|startoftext|>",
)


def _delta(handle: TokenizerHandle, units: list[str], base: int, specials: bool = False) -> int:
    return handle.count(compose(units), specials=specials) - base


def _pair_score(values: Mapping[str, int]) -> tuple[int, int]:
    """(pairs that differ, sum of capped differences) over all pairs of ids."""
    differ = total = 0
    for a, b in itertools.combinations(values.values(), 2):
        gap = abs(a - b)
        differ += gap > 0
        total += min(gap, 8)
    return differ, total


def search_probes(
    handles: Mapping[str, TokenizerHandle],
    *,
    text_probes: int = 4,
    units_per_probe: int = 10,
    set_id: str = "tokenizer-v1",
) -> dict[str, object]:
    """Build a probe-set document for ``handles`` (one representative tokenizer per id)."""
    base = {k: h.count(compose([])) for k, h in handles.items()}
    pool = dict(TEXT_UNITS)
    chosen_probes: list[tuple[str, list[str]]] = []
    for n in range(text_probes):
        picked: list[str] = []
        for _ in range(units_per_probe):
            best: tuple[tuple[int, int], str] | None = None
            for uid, text in pool.items():
                units = [TEXT_UNITS[u] for u in picked] + [text]
                score = _pair_score({k: _delta(h, units, base[k]) for k, h in handles.items()})
                if best is None or score > best[0]:
                    best = (score, uid)
            assert best is not None
            picked.append(best[1])
            pool.pop(best[1])
            if not pool:
                break
        chosen_probes.append((f"text{n + 1}", picked))
        if not pool:
            break
    specials_probe = ("specials", list(SPECIAL_SPELLINGS))
    ranked = [chosen_probes[0], specials_probe, *chosen_probes[1:]]
    probes = []
    for index, (kind, units) in enumerate(ranked, start=1):
        texts = list(units) if kind == "specials" else [TEXT_UNITS[u] for u in units]
        probes.append(
            {"id": f"p{index}", "kind": kind, "units": list(units), "text": compose(texts)}
        )
    return {
        "schema": PROBE_SCHEMA,
        "id": set_id,
        "note": "generated by `provenance signatures probes`; do not edit by hand",
        "tail": TAIL,
        "baseline": {"id": "baseline", "text": compose([])},
        "probes": probes,
    }
