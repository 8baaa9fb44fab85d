#!/usr/bin/env bash
# The JSON API through a client generated from the served OpenAPI document: a freshly built
# server on a throw-away database (dispatching, http:// to loopback allowed), a real account and
# API key (every scope); its /api/v1/openapi.json is fetched, a Python client is generated from it
# by the stock openapi-python-client (any generator warning — a piece of the document it had to
# drop — fails), and end2end/generated_client_test.py uses that client alone to create a webhook
# pointing at a receiver it runs on 127.0.0.1, publish an event and read the delivery.
# `make generated-client` runs it with the pinned generator's venv first on PATH.
set -euo pipefail
cd "$(dirname "$0")"
BIN=${SKW_E2E_BIN:-../target/debug/schedulingkit-webhooks}
GENERATOR=${OPENAPI_PYTHON_CLIENT:-openapi-python-client}
# The Python that has the generated client's dependencies (httpx, attrs): the generator's own.
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import httpx, attrs' 2>/dev/null \
  || { echo "generated-client: $PYTHON lacks httpx and attrs (run it as make generated-client does: the generator's venv first on PATH)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "generated-client: no server binary at $BIN (cargo build -p server, or set SKW_E2E_BIN)" >&2; exit 1; }
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; rm -rf "$dir"' EXIT
export DATABASE_URL="sqlite://$dir/client.db" SKW_SECRET_KEY_FILE="$dir/secret.key" SKW_LOG=error
"$BIN" migrate >/dev/null
echo 'client password 123' | "$BIN" account create --email client@example.com >/dev/null
key=$("$BIN" api-key create --account client@example.com)
SKW_ROLE=all SKW_ALLOW_INSECURE_TARGETS=true SKW_RESOLVE_ON_SAVE=false SKW_METRICS_ADDR=off \
  "$BIN" serve --addr 127.0.0.1:0 > "$dir/out" &
pid=$!
for _ in $(seq 1 100); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
base=$(awk '/listening/ {print $NF}' "$dir/out")
[ -n "$base" ] || { echo "generated-client: the server did not start:" >&2; cat "$dir/out" >&2; exit 1; }
curl -sf --noproxy '*' "$base/api/v1/openapi.json" -o "$dir/openapi.json"
# No post-generation hooks (the default runs ruff over the output): the code is used as generated.
printf 'post_hooks: []\n' > "$dir/generator.yaml"
"$GENERATOR" --version
"$GENERATOR" generate --path "$dir/openapi.json" --output-path "$dir/skw_client" --meta none \
  --config "$dir/generator.yaml" --fail-on-warning
SKW_BASE_URL="$base" SKW_API_KEY="$key" PYTHONPATH="$dir" PYTHONDONTWRITEBYTECODE=1 \
  "$PYTHON" generated_client_test.py
