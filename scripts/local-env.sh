# Source me in a shell next to `make dev`:  source scripts/local-env.sh
# Exports the local stack's endpoints from .cosmos/local.json and defines small helpers that
# call the real APIs (Cognito's JSON protocol, the HTTP API) with curl.
_cosmos_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
_cosmos_config="$_cosmos_root/.cosmos/local.json"
if [ ! -f "$_cosmos_config" ]; then
  echo "no $_cosmos_config: start the stack with 'make dev' first" >&2
  return 1 2>/dev/null || exit 1
fi
_cosmos_get() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$_cosmos_config" "$1"; }
export API="$(_cosmos_get httpApiUrl)"
export WS="$(_cosmos_get webSocketUrl)"
export COGNITO="$(_cosmos_get cognitoEndpoint)"
export USER_POOL_ID="$(_cosmos_get userPoolId)"
export CLIENT_ID="$(_cosmos_get userPoolClientId)"
export AWS_REGION="$(_cosmos_get region)"

# json '["id"]' < response  → prints one field of a JSON document.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# cognito <Operation> '<json body>'  → a Cognito Identity Provider API call.
cognito() {
  curl -s "$COGNITO" -H 'Content-Type: application/x-amz-json-1.1' \
    -H "X-Amz-Target: AWSCognitoIdentityProviderService.$1" -d "$2"
}

# sign_up <email> <handle> <password>  → SignUp, then ConfirmSignUp with the local code 123456.
sign_up() {
  cognito SignUp "{\"ClientId\":\"$CLIENT_ID\",\"Username\":\"$1\",\"Password\":\"$3\",\"UserAttributes\":[{\"Name\":\"preferred_username\",\"Value\":\"$2\"}]}" >/dev/null &&
    cognito ConfirmSignUp "{\"ClientId\":\"$CLIENT_ID\",\"Username\":\"$1\",\"ConfirmationCode\":\"123456\"}" >/dev/null &&
    echo "signed up $1 (handle $2)"
}

# sign_in <email> <password>  → prints the id token.
sign_in() {
  cognito InitiateAuth "{\"AuthFlow\":\"USER_PASSWORD_AUTH\",\"ClientId\":\"$CLIENT_ID\",\"AuthParameters\":{\"USERNAME\":\"$1\",\"PASSWORD\":\"$2\"}}" |
    json '["AuthenticationResult"]["IdToken"]'
}

# api <token> <METHOD> <path> [json body]  → an HTTP API call; the body on stdout, the status on stderr.
api() {
  local body=()
  [ -n "${4:-}" ] && body=(-H 'Content-Type: application/json' -d "$4")
  curl -s -w '\n%{stderr}HTTP %{http_code}\n' -X "$2" "$API$3" -H "Authorization: Bearer $1" "${body[@]}"
}
