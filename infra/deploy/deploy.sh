#!/usr/bin/env bash
# Deploy the chat to your AWS account: build and deploy the SAM stack, then
# upload the web client with a config.json pointing at the stack's APIs.
#
# Usage: make deploy [STACK=chat] [REGION=us-east-1] [GUIDED=1]
#
# It never prompts unless GUIDED=1 is given (then `sam deploy --guided` asks
# its questions, see docs/operations.md), so it runs the same in CI as at a
# desk. Deploying with nothing changed is fine: the web client and its
# config.json are uploaded either way.
set -euo pipefail
cd "$(dirname "$0")/../.."

stack=${STACK:-chat}
region=${REGION:-${AWS_REGION:-us-east-1}}
guided=${GUIDED:-}

missing=()
command -v sam >/dev/null 2>&1 || missing+=("the AWS SAM CLI (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html)")
command -v aws >/dev/null 2>&1 || missing+=("the AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)")
command -v go >/dev/null 2>&1 || missing+=("Go 1.26 (https://go.dev/dl/)")
if ((${#missing[@]})); then
  printf 'make deploy needs:\n' >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
if ! aws sts get-caller-identity --region "$region" >/dev/null 2>&1; then
  echo "make deploy needs AWS credentials: run 'aws configure' or 'aws sso login', or set AWS_PROFILE." >&2
  exit 1
fi

sam build
if [ -n "$guided" ]; then
  # Asks for the stack name, region, parameters and confirmations, and can
  # save the answers in samconfig.toml for the next deploy.
  sam deploy --guided --stack-name "$stack" --region "$region"
else
  # No change set review and no progress bar, so no terminal is needed; an
  # empty change set (nothing changed since the last deploy) is a success.
  sam deploy --stack-name "$stack" --region "$region" \
    --no-confirm-changeset --no-fail-on-empty-changeset --no-progressbar
fi

output() {
  aws cloudformation describe-stacks --stack-name "$stack" --region "$region" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
http_url=$(output HttpApiUrl)
ws_url=$(output WebSocketUrl)
web_url=$(output WebUrl)
bucket=$(output WebBucketName)
for v in http_url ws_url web_url bucket; do
  if [ -z "${!v}" ] || [ "${!v}" = "None" ]; then
    echo "stack $stack in $region has no output for $v: did the deploy finish?" >&2
    exit 1
  fi
done

site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
cp -R web/. "$site/"
printf '{"httpApiUrl": "%s", "webSocketUrl": "%s"}\n' "$http_url" "$ws_url" > "$site/config.json"
aws s3 sync "$site/" "s3://$bucket/" --delete --region "$region"
aws s3 cp "$site/config.json" "s3://$bucket/config.json" --cache-control no-store --content-type application/json --region "$region"

dist=$(aws cloudfront list-distributions --query "DistributionList.Items[?DomainName=='${web_url#https://}'].Id" --output text)
if [ -n "$dist" ] && [ "$dist" != "None" ]; then
  aws cloudfront create-invalidation --distribution-id "$dist" --paths '/*' >/dev/null
fi
echo
echo "The chat is at $web_url"
