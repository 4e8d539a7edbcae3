#!/usr/bin/env python3
"""Cerbos CheckResources requests from a Cerbos test suite, for the SDK checks: one request per
principal of the suite, asking about every resource of it, each with every action the suite
asks about that resource's kind. Prints them as a JSON array.

    python3 tests/sdk/suite_requests.py policies/example/tests/document_test.yaml > requests.json
"""
import json
import sys

import yaml


def main():
    with open(sys.argv[1]) as f:
        suite = yaml.safe_load(f)
    resources = suite["resources"]
    actions = {}
    for test in suite["tests"]:
        for name in test["input"]["resources"]:
            kind = actions.setdefault(resources[name]["kind"], [])
            kind.extend(a for a in test["input"]["actions"] if a not in kind)
    requests = [
        {
            "requestId": f"sdk-{name}",
            "principal": principal,
            "resources": [{"actions": actions[r["kind"]], "resource": r} for r in resources.values()],
        }
        for name, principal in suite["principals"].items()
    ]
    json.dump(requests, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
