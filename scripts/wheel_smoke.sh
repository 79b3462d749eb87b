#!/usr/bin/env bash
# Test what ships: build the sdist and, from it, the wheel; install the wheel into a new virtual
# environment outside the checkout; run the commands a new user runs, from an empty folder.
#   scripts/wheel_smoke.sh [PYTHON]     PYTHON builds the venv (default: python3.11 or python3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${1:-$(command -v python3.11 || command -v python3)}
work=$(mktemp -d "${TMPDIR:-/tmp}/screener-smoke.XXXXXX")
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
step() { printf 'wheel smoke: %s\n' "$*"; }
fail() { printf 'wheel smoke FAILED: %s\n' "$*" >&2; exit 1; }

step "building sdist and wheel"
"$python" -m venv "$work/build-env"
"$work/build-env/bin/pip" install --quiet --disable-pip-version-check build
"$work/build-env/bin/python" -m build --outdir "$work/dist" "$root" >"$work/build.log" 2>&1 || { tail -20 "$work/build.log"; fail "build"; }
sdist=$(ls "$work"/dist/screener-*.tar.gz); wheel=$(ls "$work"/dist/screener-*.whl)
tar tzf "$sdist" >"$work/sdist.txt"
grep -q '/lists/us_entity_list.yaml$' "$work/sdist.txt" || fail "the sdist lacks lists/us_entity_list.yaml"
"$python" - "$wheel" <<'PY' || fail "the wheel lacks package data"
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = ["screener/lists/bundled/us_entity_list.yaml", "screener/names/terms.yaml",
        "screener/service/templates/base.html", "screener/service/static/app.js"]
missing = [n for n in need if n not in names]
sys.exit(f"missing from the wheel: {missing}" if missing else 0)
PY

step "installing $(basename "$wheel") into a clean venv"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel" || fail "pip install of the wheel"
export PATH="$work/venv/bin:$PATH" SCREENER_HOME="$work/home"
unset SCREENER_DEFAULT_LIST SCREENER_DB SCREENER_API_KEYS
mkdir "$work/run" && cd "$work/run"
cp "$root/sample_orders/customer_master.xlsx" customers.xlsx

expect() {  # expect CODE COMMAND...: run it, and fail unless it exits CODE
  local want=$1; shift
  set +e; "$@" >"$work/out" 2>"$work/err"; local got=$?; set -e
  [ "$got" = "$want" ] || { cat "$work/err" >&2; fail "'$*' exited $got, expected $want"; }
}
step "screen a sample into an xlsx report (exit 1: potential matches)"
expect 1 screener screen customers.xlsx -o report.xlsx
"$work/venv/bin/python" -c "import openpyxl, sys; wb = openpyxl.load_workbook('report.xlsx', read_only=True); sys.exit(0 if 'Summary' in wb.sheetnames else 'no Summary sheet')" || fail "report.xlsx unreadable"
step "check a restricted party (exit 1, HOLD) and a clean one (exit 0, RELEASE)"
expect 1 screener check --party "Hangzhou Hikvision Digital Technology Co., Ltd." --country CN
grep -q HOLD "$work/out" || fail "check did not say HOLD"
expect 0 screener check --party "Nordic Precision AB" --country SE
grep -q RELEASE "$work/out" || fail "check did not say RELEASE"
step "lists show --json"
expect 0 screener lists show --json
"$work/venv/bin/python" -c "import json, sys; d = json.load(open(sys.argv[1])); assert d" "$work/out" || fail "lists show --json is not JSON"
step "serve answers /healthz"
port=$("$work/venv/bin/python" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
screener serve --host 127.0.0.1 --port "$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 150); do
  if "$work/venv/bin/python" -c "import httpx, sys; r = httpx.get('http://127.0.0.1:$port/healthz', timeout=2); sys.exit(r.status_code != 200)" 2>/dev/null; then
    step "ok: every command works from the installed wheel"; exit 0
  fi
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; fail "serve exited"; }
  sleep 0.2
done
cat "$work/serve.log" >&2; fail "/healthz did not answer within 30 s"
