#!/usr/bin/env bash
# Deploys Terarchitect to AWS with infra/template.yaml (see docs/deployment.md).
#
#   STACK=terarchitect VPC_ID=vpc-... SUBNETS=subnet-a,subnet-b ARTIFACT_BUCKET=my-bucket \
#   AGENT_REPO=123456789012.dkr.ecr.eu-west-1.amazonaws.com/terarchitect-agent \
#   infra/deploy.sh
#
# Needs: the AWS CLI (credentials for the target account), the SAM CLI and cargo-lambda
# (pip install aws-sam-cli cargo-lambda ziglang), Docker with buildx for the arm64 agent
# image, the web toolchain (`bash web/build.sh web_install`), curl and openssl. Idempotent:
# re-run to update; the secret key is created on the first run only. While rotating the
# secret key, PREVIOUS_SECRET_KEY_ARN names the secret holding the old key(s)
# (docs/deployment.md); deploy without it afterwards.
set -euo pipefail

say() { printf '\033[1;34m[deploy]\033[0m %s\n' "$*" >&2; }

# private_tmp VAR: a new private temporary file (mode 0600) in VAR, removed at exit.
TMP_FILES=()
private_tmp() {
  local f; f=$(umask 077 && mktemp)
  TMP_FILES+=("$f")
  printf -v "$1" '%s' "$f"
}
cleanup() { [ ${#TMP_FILES[@]} -eq 0 ] || rm -f "${TMP_FILES[@]}"; }
trap cleanup EXIT

# ensure_secret ARN WHAT COMMAND...: gives the secret ARN a value from COMMAND's output
# if, and only if, it has none yet. Secrets Manager answers ResourceNotFoundException for
# a secret without a value; any other failure (throttling, network, permissions) stops the
# deploy instead of replacing a key that stored data depends on. The value travels in a
# 0600 file, never on a command line.
ensure_secret() {
  local arn=$1 what=$2; shift 2
  local err value; private_tmp err
  if aws secretsmanager get-secret-value --secret-id "$arn" --query VersionId --output text >/dev/null 2>"$err"; then
    return 0
  fi
  if ! grep -q 'ResourceNotFoundException' "$err"; then
    say "cannot tell whether $what exists; stopping (nothing was changed):"
    cat "$err" >&2
    return 1
  fi
  say "creating $what (first deploy)"
  private_tmp value
  "$@" >"$value"
  [ -s "$value" ] || { say "no value for $what"; return 1; }
  aws secretsmanager put-secret-value --secret-id "$arn" --secret-string "file://$value" >/dev/null
}

new_secret_key() { openssl rand -base64 32 | tr -d '\n'; }

# Amazon RDS's root certificates: the functions connect to Aurora with sslmode=verify-full
# against this bundle, shipped in a layer (DatabaseCaLayer, ContentUri in the template).
RDS_CA_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
RDS_CA_FILE=infra/.build/rds-ca/rds-global-bundle.pem

# fetch_rds_ca FILE: downloads the bundle into FILE, or stops the deploy with FILE
# absent (a stale or partial bundle is never packaged).
fetch_rds_ca() {
  local dest=$1 tmp; private_tmp tmp
  rm -f "$dest"
  if ! curl -fsS --proto '=https' --tlsv1.2 --retry 3 -o "$tmp" "$RDS_CA_URL"; then
    say "cannot download the RDS root certificates from $RDS_CA_URL; stopping (the functions could not verify the database)"
    return 1
  fi
  if ! grep -q -- '-----BEGIN CERTIFICATE-----' "$tmp" || ! openssl x509 -noout -in "$tmp" 2>/dev/null; then
    say "$RDS_CA_URL did not answer a PEM certificate bundle; stopping"
    return 1
  fi
  mkdir -p "$(dirname "$dest")"
  install -m 0644 "$tmp" "$dest"
}

# Sourced by the tests for the functions above; run, it deploys.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
: "${STACK:?}" "${VPC_ID:?}" "${SUBNETS:?}" "${ARTIFACT_BUCKET:?}" "${AGENT_REPO:?}"
VERSION=${VERSION:-$(git rev-parse --short HEAD)}
out() { aws cloudformation describe-stacks --stack-name "$STACK" --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text; }
admin() { # admin ARGS...: runs the admin function, prints its output
  local payload result; payload=$(python3 -c 'import json,sys;print(json.dumps({"args":sys.argv[1:]}))' "$@")
  private_tmp result
  aws lambda invoke --function-name "$(out AdminFunctionName)" --cli-binary-format raw-in-base64-out \
    --payload "$payload" "$result" >/dev/null
  python3 -c 'import json,sys;d=json.load(open(sys.argv[1]));print(d.get("output") or d, end="")' "$result"
}

say "agent image $AGENT_REPO:$VERSION (linux/arm64)"
aws ecr get-login-password | docker login --username AWS --password-stdin "${AGENT_REPO%%/*}"
docker buildx build --platform linux/arm64 -f Dockerfile.agent -t "$AGENT_REPO:$VERSION" --push .

say "worker host binary (aarch64)"
cargo lambda build --release --arm64 --locked -p terarchitect-worker-host --bin worker-host
aws s3 cp "target/lambda/worker-host/bootstrap" "s3://$ARTIFACT_BUCKET/terarchitect/$VERSION/worker-host"

say "functions and the stack"
fetch_rds_ca "$RDS_CA_FILE"
sam build --template infra/template.yaml --beta-features
sam deploy --stack-name "$STACK" --capabilities CAPABILITY_IAM --resolve-s3 --no-fail-on-empty-changeset \
  --parameter-overrides VpcId="$VPC_ID" PrivateSubnetIds="$SUBNETS" \
    WorkerHostArtifactUri="s3://$ARTIFACT_BUCKET/terarchitect/$VERSION/worker-host" \
    AgentImageUri="$AGENT_REPO:$VERSION" PreviousSecretKeyArn="${PREVIOUS_SECRET_KEY_ARN:-}"

ensure_secret "$(out AppSecretKeyArn)" "the secret key" new_secret_key

say "migrations and the functions' database role"
private_tmp migrated
aws lambda invoke --function-name "$(out MigrateFunctionName)" "$migrated" >/dev/null
grep -q '"migrated":true' "$migrated" || { cat "$migrated"; exit 1; }

# Worker hosts need no token from here: each instance gets its own when it launches
# (WorkerLaunchRule → admin register-host).

say "UI"
bash web/build.sh web_build
aws s3 sync web/dist "s3://$(out UiBucketName)" --delete
aws cloudfront create-invalidation --distribution-id "$(out DistributionId)" --paths '/*' >/dev/null

say "rolling the worker hosts onto $VERSION"
aws autoscaling start-instance-refresh --auto-scaling-group-name "$(out WorkerGroupName)" >/dev/null 2>&1 || true

say "done: $(out Url)"
say "sign-in token for a person: aws lambda invoke --function-name $(out AdminFunctionName) \\"
say "  --cli-binary-format raw-in-base64-out --payload '{\"args\":[\"mint-token\",\"--name\",\"me\"]}' token.json"
