#!/usr/bin/env bash
# Checks the served OpenAPI document with the stock openapi-spec-validator, then fuzzes the JSON
# API from it with schemathesis: a freshly built server on a throw-away database, a real account
# and API key (every scope), a bounded number of generated requests; then the operator's routes
# (tags operator and acting) the same way with an operator key.
# Fails on any 5xx, on a response that does not match its documented schema, and on a 4xx that is
# not the JSON error shape {"error": {"code", "message"}} (end2end/schemathesis_hooks.py).
set -euo pipefail
cd "$(dirname "$0")"
BIN=${SKW_E2E_BIN:-../target/debug/schedulingkit-webhooks}
ST=${ST:-st}
OPENAPI_SPEC_VALIDATOR=${OPENAPI_SPEC_VALIDATOR:-openapi-spec-validator}
EXAMPLES=${SKW_FUZZ_EXAMPLES:-40}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
export DATABASE_URL="sqlite://$dir/fuzz.db" SKW_SECRET_KEY_FILE="$dir/secret.key" SKW_LOG=error
"$BIN" migrate >/dev/null
echo 'fuzz password 123' | "$BIN" account create --email fuzz@example.com >/dev/null
key=$("$BIN" api-key create --account fuzz@example.com)
opkey=$("$BIN" operator-key create --name fuzz)
SKW_RESOLVE_ON_SAVE=false "$BIN" serve --addr 127.0.0.1:0 > "$dir/out" &
pid=$!
for _ in $(seq 1 100); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
base=$(awk '/listening/ {print $NF}' "$dir/out")
# The document as served, by the stock validator (unique operationIds, valid references, …).
curl -sf "$base/api/v1/openapi.json" -o "$dir/openapi.json"
"$OPENAPI_SPEC_VALIDATOR" "$dir/openapi.json"
# Something to find: one webhook and one event.
curl -sf -X POST "$base/api/v1/webhooks" -H "Authorization: Bearer $key" -H 'content-type: application/json' \
  -d '{"name":"fuzz","url":"https://hooks.example.com/in","events":["booking.created"]}' >/dev/null
# …and for the operator: a provisioned account (the documented example id) with a webhook.
curl -sf -X PUT "$base/api/v1/accounts/cus_123" -H "Authorization: Bearer $opkey" -H 'content-type: application/json' \
  -d '{"name":"Fuzz","owner_email":"owner@example.com"}' >/dev/null
curl -sf -X POST "$base/api/v1/accounts/cus_123/webhooks" -H "Authorization: Bearer $opkey" -H 'content-type: application/json' \
  -d '{"name":"fuzz","url":"https://hooks.example.com/op","events":["booking.created"]}' >/dev/null
fuzz() {
  SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=. "$ST" run "$base/api/v1/openapi.json" \
    --checks not_a_server_error,content_type_conformance,response_schema_conformance,json_error_shape \
    --phases examples,coverage,fuzzing \
    --max-examples "$EXAMPLES" \
    --seed 42 \
    --no-color "$@"
}
fuzz --header "Authorization: Bearer $key" --exclude-tag-regex '^(operator|acting)$'
fuzz --header "Authorization: Bearer $opkey" --include-tag-regex '^(operator|acting)$'
