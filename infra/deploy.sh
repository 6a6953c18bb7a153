#!/usr/bin/env bash
# Deploys Terarchitect to AWS with infra/template.yaml (see docs/deployment.md).
#
#   STACK=terarchitect VPC_ID=vpc-... SUBNETS=subnet-a,subnet-b ARTIFACT_BUCKET=my-bucket \
#   AGENT_REPO=123456789012.dkr.ecr.eu-west-1.amazonaws.com/terarchitect-agent \
#   infra/deploy.sh
#
# Needs: the AWS CLI (credentials for the target account), the SAM CLI and cargo-lambda
# (pip install aws-sam-cli cargo-lambda ziglang), Docker with buildx for the arm64 agent
# image, and the web toolchain (`bash web/build.sh web_install`). Idempotent: re-run to
# update; the secret key and the worker token are created on the first run only.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
: "${STACK:?}" "${VPC_ID:?}" "${SUBNETS:?}" "${ARTIFACT_BUCKET:?}" "${AGENT_REPO:?}"
VERSION=${VERSION:-$(git rev-parse --short HEAD)}
say() { printf '\033[1;34m[deploy]\033[0m %s\n' "$*" >&2; }
out() { aws cloudformation describe-stacks --stack-name "$STACK" --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text; }
admin() { # admin ARGS...: runs the admin function, prints its output
  local payload; payload=$(python3 -c 'import json,sys;print(json.dumps({"args":sys.argv[1:]}))' "$@")
  aws lambda invoke --function-name "$(out AdminFunctionName)" --cli-binary-format raw-in-base64-out \
    --payload "$payload" /tmp/terarchitect-admin.json >/dev/null
  python3 -c 'import json;d=json.load(open("/tmp/terarchitect-admin.json"));print(d.get("output") or d, end="")'
}

say "agent image $AGENT_REPO:$VERSION (linux/arm64)"
aws ecr get-login-password | docker login --username AWS --password-stdin "${AGENT_REPO%%/*}"
docker buildx build --platform linux/arm64 -f Dockerfile.agent -t "$AGENT_REPO:$VERSION" --push .

say "worker host binary (aarch64)"
cargo lambda build --release --arm64 --locked -p terarchitect-worker-host --bin worker-host
aws s3 cp "target/lambda/worker-host/bootstrap" "s3://$ARTIFACT_BUCKET/terarchitect/$VERSION/worker-host"

say "functions and the stack"
sam build --template infra/template.yaml --beta-features
sam deploy --stack-name "$STACK" --capabilities CAPABILITY_IAM --resolve-s3 --no-fail-on-empty-changeset \
  --parameter-overrides VpcId="$VPC_ID" PrivateSubnetIds="$SUBNETS" \
    WorkerHostArtifactUri="s3://$ARTIFACT_BUCKET/terarchitect/$VERSION/worker-host" \
    AgentImageUri="$AGENT_REPO:$VERSION"

key_arn=$(out AppSecretKeyArn)
if ! aws secretsmanager get-secret-value --secret-id "$key_arn" >/dev/null 2>&1; then
  say "creating the secret key (first deploy)"
  aws secretsmanager put-secret-value --secret-id "$key_arn" --secret-string "$(openssl rand -base64 32)" >/dev/null
fi

say "migrations"
aws lambda invoke --function-name "$(out MigrateFunctionName)" /tmp/terarchitect-migrate.json >/dev/null
grep -q '"migrated":true' /tmp/terarchitect-migrate.json || { cat /tmp/terarchitect-migrate.json; exit 1; }

worker_arn=$(out WorkerTokenSecretArn)
if ! aws secretsmanager get-secret-value --secret-id "$worker_arn" >/dev/null 2>&1; then
  say "minting the worker hosts' token (first deploy)"
  aws secretsmanager put-secret-value --secret-id "$worker_arn" \
    --secret-string "$(admin mint-token --name worker-hosts --kind worker | tr -d '\n')" >/dev/null
fi

say "UI"
bash web/build.sh web_build
aws s3 sync web/dist "s3://$(out UiBucketName)" --delete
aws cloudfront create-invalidation --distribution-id "$(out DistributionId)" --paths '/*' >/dev/null

say "rolling the worker hosts onto $VERSION"
aws autoscaling start-instance-refresh --auto-scaling-group-name "$(out WorkerGroupName)" >/dev/null 2>&1 || true

say "done: $(out Url)"
say "sign-in token for a person: aws lambda invoke --function-name $(out AdminFunctionName) \\"
say "  --cli-binary-format raw-in-base64-out --payload '{\"args\":[\"mint-token\",\"--name\",\"me\"]}' token.json"
