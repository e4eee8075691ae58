#!/usr/bin/env bash
# Installs the local stack's stand-in tools into <repo>/.cosmos (git-ignored), or into
# $COSMOS_TOOLS_DIR when set (the same variable cosmos-local reads):
#   .cosmos/venv                               python venv: moto[server] (moto_server), cfn-lint,
#                                              websockets (a WebSocket client for the walkthrough)
#   .cosmos/node/node_modules/cognito-local    npm cognito-local (Cognito stand-in with triggers)
# Idempotent: a stamp file per tool holds the pins it was installed with; a re-run with the same
# pins does nothing, a changed pin reinstalls that tool from scratch. Needs python3 (3.9+, with
# venv or pip) and node 18+ with npm; reaches only PyPI and the npm registry. Nothing global.
set -euo pipefail

MOTO_VERSION="5.2.5"
CFN_LINT_VERSION="1.58.0"
# A WebSocket client for the README walkthrough: `.cosmos/venv/bin/python -m websockets <url>`.
WEBSOCKETS_VERSION="15.0.1"
COGNITO_LOCAL_VERSION="5.3.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${COSMOS_TOOLS_DIR:-$root/.cosmos}"
mkdir -p "$tools"

# Serialise concurrent runs (two test suites starting at once) where flock exists.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$tools/.tools.lock"
  flock 9
fi

fail() { echo "tools: $*" >&2; exit 1; }
now() { date +%s; }

install_venv() {
  local venv="$tools/venv" stamp="$tools/venv/.cosmos-stamp"
  local python="${PYTHON:-python3}"
  command -v "$python" >/dev/null 2>&1 || fail "python3 not found (need python 3.9+ with pip)"
  local want
  want="moto[server]==$MOTO_VERSION cfn-lint==$CFN_LINT_VERSION websockets==$WEBSOCKETS_VERSION $("$python" -c 'import sys; print("python%d.%d" % sys.version_info[:2])')"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/moto_server" && -x "$venv/bin/cfn-lint" ]]; then
    echo "tools: moto $MOTO_VERSION, cfn-lint $CFN_LINT_VERSION: up to date ($venv)"
    return
  fi
  local start; start="$(now)"
  rm -rf "$venv"
  local pip=("$venv/bin/python" -m pip)
  if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
    # Debian's python3 without python3-venv has no ensurepip: make the venv without pip and
    # drive it with the system pip (pip >= 22.3 understands --python).
    rm -rf "$venv"
    "$python" -m venv --without-pip "$venv" \
      || fail "cannot create a venv with $python (apt-get install python3-venv)"
    "$python" -m pip --version >/dev/null 2>&1 \
      || fail "$python has neither venv's ensurepip nor pip (apt-get install python3-venv or python3-pip)"
    pip=("$python" -m pip --python "$venv/bin/python")
  fi
  "${pip[@]}" install --quiet --disable-pip-version-check --no-input \
    "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION" "websockets==$WEBSOCKETS_VERSION" \
    || fail "pip install of moto[server]==$MOTO_VERSION / cfn-lint==$CFN_LINT_VERSION failed"
  [[ -x "$venv/bin/moto_server" ]] || fail "moto_server missing after install"
  echo "$want" >"$stamp"
  echo "tools: moto $MOTO_VERSION, cfn-lint $CFN_LINT_VERSION: installed in $(( $(now) - start ))s ($venv)"
}

install_cognito_local() {
  local prefix="$tools/node" stamp="$tools/node/.cosmos-stamp"
  local start_js="$prefix/node_modules/cognito-local/lib/bin/start.js"
  command -v node >/dev/null 2>&1 || fail "node not found (need node 18+ with npm)"
  command -v npm >/dev/null 2>&1 || fail "npm not found (need node 18+ with npm)"
  local want="cognito-local@$COGNITO_LOCAL_VERSION"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$start_js" ]]; then
    echo "tools: cognito-local $COGNITO_LOCAL_VERSION: up to date ($prefix)"
    return
  fi
  local start; start="$(now)"
  rm -rf "$prefix"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --save-exact \
    "cognito-local@$COGNITO_LOCAL_VERSION" >/dev/null \
    || fail "npm install cognito-local@$COGNITO_LOCAL_VERSION failed"
  [[ -f "$start_js" ]] || fail "cognito-local start script missing after install ($start_js)"
  echo "$want" >"$stamp"
  echo "tools: cognito-local $COGNITO_LOCAL_VERSION: installed in $(( $(now) - start ))s ($prefix)"
}

install_venv
install_cognito_local
