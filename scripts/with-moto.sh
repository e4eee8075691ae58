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

listening() { python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 0.2)" "$port" 2>/dev/null; }
for _ in $(seq 1 200); do
  listening && break
  kill -0 "$moto_pid" 2>/dev/null || { echo "moto exited early; see $log" >&2; exit 1; }
  sleep 0.1
done
listening || { echo "moto did not start listening on 127.0.0.1:$port; see $log" >&2; exit 1; }

export COSMOS_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
"$@"
