#!/usr/bin/env bash
# Runs a command with a private moto server (the local DynamoDB/S3 stand-in) on 127.0.0.1 and
# COSMOS_TEST_AWS_ENDPOINT pointing at it; stops the server afterwards, whatever happens.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
moto="$root/.cosmos/venv/bin/moto_server"
[ -x "$moto" ] || { echo "moto is not installed: run 'make tools'" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$root/.cosmos/test-moto.log"
"$moto" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  if curl -fs "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
  kill -0 "$moto_pid" 2>/dev/null || { echo "moto exited early; see $log" >&2; exit 1; }
  sleep 0.1
done

export COSMOS_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
"$@"
