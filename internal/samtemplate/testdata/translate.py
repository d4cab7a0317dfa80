"""Translate template.yaml with AWS's SAM translator (what `sam validate`
and CloudFormation's AWS::Serverless transform run) and print, as JSON, the
number of CloudFormation resources it made and the actions each IAM role's
inline policies grant. Usage: python3 translate.py TEMPLATE
"""
import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class ManagedPolicies:
    """The managed policies SAM attaches by name, without asking IAM."""

    def load(self):
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        }


def main(path):
    with open(path) as f:
        template = yaml_parse(f.read())
    # What `sam package` does first: code becomes an S3 address.
    for res in template["Resources"].values():
        if res["Type"] == "AWS::Serverless::Function":
            res.setdefault("Properties", {})["CodeUri"] = "s3://bucket/code.zip"
    out = transform(template, {"AWS::Region": "us-east-1"}, ManagedPolicies())
    roles = {}
    for name, res in out["Resources"].items():
        if res["Type"] != "AWS::IAM::Role":
            continue
        actions = []
        for policy in res["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                a = st.get("Action", [])
                actions += a if isinstance(a, list) else [a]
        roles[name] = sorted(set(actions))
    json.dump({"resources": len(out["Resources"]), "roles": roles}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
