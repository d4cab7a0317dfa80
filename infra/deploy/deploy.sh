#!/usr/bin/env bash
# Deploy the chat to your AWS account: build and deploy the SAM stack, then
# upload the web client with a config.json pointing at the stack's APIs.
# Usage: make deploy [STACK=chat] [REGION=us-east-1]
set -euo pipefail
cd "$(dirname "$0")/../.."

stack=${STACK:-chat}
region=${REGION:-${AWS_REGION:-us-east-1}}

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
sam deploy --stack-name "$stack" --region "$region"

output() {
  aws cloudformation describe-stacks --stack-name "$stack" --region "$region" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
http_url=$(output HttpApiUrl)
ws_url=$(output WebSocketUrl)
web_url=$(output WebUrl)
bucket=$(output WebBucketName)

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
