"""The smoke set run against an installed wheel (see .ci/wheel-smoke): every check runs the
installed ``provenance`` command from a folder outside the checkout and fails loudly.

    python .ci/wheel_smoke.py VENV DIST
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path

VENV, DIST = Path(sys.argv[1]), Path(sys.argv[2])
CMD = str(VENV / "bin" / "provenance")
PY = str(VENV / "bin" / "python")
WORK = Path.cwd()
DB = f"sqlite:///{WORK / 'smoke.sqlite'}"
checks: list[str] = []


def fail(msg: str) -> None:
    print(f"wheel smoke FAILED: {msg}", file=sys.stderr)
    raise SystemExit(1)


def run(*args: str, ok: int = 0, timeout: float = 120) -> str:
    proc = subprocess.run([CMD, *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != ok:
        fail(f"provenance {' '.join(args)} exited {proc.returncode}: {proc.stderr[-600:]}")
    if "Traceback" in proc.stderr:
        fail(f"provenance {' '.join(args)} printed a traceback: {proc.stderr[-600:]}")
    return proc.stdout


def check(name: str) -> None:
    checks.append(name)
    print(f"ok  {name}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status
        except OSError:
            time.sleep(0.5)
    fail(f"{url} did not answer within {timeout:.0f} s")
    return 0


# 1. the installed package, not the checkout
where = subprocess.run([PY, "-c", "import provenance, provenance.fingerprint.logits.engine, "
                        "provenance.fingerprint.tokenizer.boundary; print(provenance.__file__)"],
                       capture_output=True, text=True, check=False)  # fmt: skip
if where.returncode != 0 or str(VENV) not in where.stdout:
    fail(f"provenance does not import from the wheel: {where.stdout}{where.stderr[-400:]}")
check("imports from the installed wheel, every subpackage included")

# 2. package data
pkg = Path(where.stdout.strip()).parent
wanted = [
    "fingerprints/hosts.json", "fingerprints/models.json", "fingerprints/products.json",
    "fingerprints/tokenizers/manifest.json", "fingerprints/tokenizers/packages.json",
    "fingerprints/tokenizers/kimi-k2.jsonl", "fingerprints/probes/tokenizer.json",
    "fingerprints/logits/probes.json", "addons/capture.py", "dashboards/app.py", "dashboards/serve.py",
    "store/migrations/env.py", "store/migrations/versions/0002_stream_deltas.py",
]  # fmt: skip
missing = [w for w in wanted if not (pkg / w).is_file()]
if missing or not list((pkg / "dashboards" / "pages").glob("*.py")):
    fail(f"package data missing from the wheel: {missing or ['dashboards/pages/*.py']}")
sdist = next(DIST.glob("*.tar.gz"))
with tarfile.open(sdist) as tar:
    names = tar.getnames()
if not any(n.endswith("fingerprints/tokenizers/packages.json") for n in names):
    fail("the sdist lacks fingerprints/")
wheel = next(DIST.glob("*.whl"))
with zipfile.ZipFile(wheel) as zf:
    if not any(n.endswith("fingerprint/logits/__init__.py") for n in zf.namelist()):
        fail("the wheel lacks provenance/fingerprint/logits")
check("package data present (catalogs, signatures, migrations, addon, dashboard pages)")

# 3. the command
if "usage: provenance" not in run("--help"):
    fail("--help printed no usage")
if not run("--version").startswith("provenance "):
    fail("--version printed no version")
for sub in ("capture", "import", "models", "fingerprint", "signatures", "report", "dashboard"):
    run(sub, "--help")
check("--help, --version and every sub-command's --help")

run("db", "upgrade", "--db", DB)
check("db upgrade")

har = {"log": {"version": "1.2", "creator": {"name": "smoke", "version": "1"}, "entries": [{
    "startedDateTime": "2026-12-01T10:00:00.000Z", "time": 12,
    "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                "httpVersion": "HTTP/1.1", "headers": [{"name": "content-type",
                "value": "application/json"}], "postData": {"mimeType": "application/json",
                "text": json.dumps({"model": "gpt-4o", "messages": [{"role": "user",
                "content": "hi"}]})}},
    "response": {"status": 200, "httpVersion": "HTTP/1.1", "headers": [{"name": "content-type",
                 "value": "application/json"}], "content": {"mimeType": "application/json",
                 "text": json.dumps({"model": "gpt-4o-2024-08-06", "choices": [],
                 "usage": {"prompt_tokens": 8, "completion_tokens": 1}})}},
    "timings": {"wait": 10}}]}}  # fmt: skip
(WORK / "smoke.har").write_text(json.dumps(har), encoding="utf-8")
run("import", str(WORK / "smoke.har"), "--db", DB)
models = json.loads(run("models", "--json", "--db", DB))
if "gpt-4o-2024-08-06" not in json.dumps(models):
    fail(f"models --json lacks the imported id: {json.dumps(models)[:400]}")
check("import of a HAR, models --json")

run("report", "--db", DB, "--format", "html", "--out", str(WORK / "report.html"))
if "gpt-4o" not in (WORK / "report.html").read_text(encoding="utf-8"):
    fail("the HTML report does not name the model")
check("report --format html")

# 4. a real capture through a reverse proxy in front of the stand-in provider
upstream = subprocess.Popen([PY, "-m", "provenance.standins.provider", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
try:
    line = upstream.stdout.readline() if upstream.stdout else ""
    base = line.strip().rsplit(" ", 1)[-1]
    if not base.startswith("http"):
        fail(f"the stand-in provider did not start: {line!r}")
    port = free_port()
    capture = subprocess.Popen(
        [CMD, "capture", "--mode", f"reverse:{base}", "--listen-port", str(port), "--db", DB,
         "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        body = json.dumps({"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hi"}]})
        deadline = time.monotonic() + 60
        while True:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/chat/completions", data=body.encode(),
                    headers={"content-type": "application/json"}, method="POST",
                )  # fmt: skip
                with urllib.request.urlopen(req, timeout=10) as resp:
                    answer = json.loads(resp.read())
                break
            except OSError:
                if time.monotonic() > deadline or capture.poll() is not None:
                    said = capture.stderr.read()[-600:] if capture.stderr else ""
                    fail(f"capture proxy did not answer: {said}")
                time.sleep(0.5)
        if "kimi-k2.5" not in json.dumps(answer):
            fail(f"the proxied answer is not the stand-in's: {answer}")
    finally:
        capture.send_signal(signal.SIGTERM)
        try:
            capture.wait(timeout=60)
        except subprocess.TimeoutExpired:
            capture.kill()
            fail("capture did not stop on SIGTERM")
finally:
    upstream.terminate()
    upstream.wait(timeout=30)
if "kimi-k2.5" not in run("models", "--json", "--db", DB):
    fail("the captured exchange was not stored")
check("capture --mode reverse through the stand-in provider, stored")

# 5. the dashboard starts and answers
port = free_port()
env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
dash = subprocess.Popen([CMD, "dashboard", "--db", DB, "--port", str(port)], env=env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
try:
    status = wait_http(f"http://127.0.0.1:{port}/")
    if status != 200:
        fail(f"dashboard answered {status}")
finally:
    dash.terminate()
    try:
        dash.wait(timeout=30)
    except subprocess.TimeoutExpired:
        dash.kill()
check("dashboard starts and serves its page")

print(f"wheel smoke: ok ({len(checks)} checks against {wheel.name})")
