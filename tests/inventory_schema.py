#!/usr/bin/env python3
"""Validate `ipckit ls --json` (or `ls --limits --json`) output against the
JSON schema documented in docs/cli.md, so the documentation is what is tested.

usage: inventory_schema.py docs/cli.md objects|limits FILE.json
The schema is the ```json block that follows the line
<!-- schema: ls --json --> (or <!-- schema: ls --limits --json -->).
"""
import json
import sys

import jsonschema


def schema_from(doc, which):
    marker = "<!-- schema: ls --json -->" if which == "objects" \
        else "<!-- schema: ls --limits --json -->"
    text = open(doc, encoding="utf-8").read()
    at = text.index(marker)
    start = text.index("```json", at) + len("```json")
    end = text.index("```", start)
    return json.loads(text[start:end])


def main():
    doc, which, path = sys.argv[1:4]
    schema = schema_from(doc, which)
    jsonschema.Draft7Validator.check_schema(schema)
    data = json.load(open(path, encoding="utf-8"))
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(data))
    for e in errors[:5]:
        print("schema: %s at %s" % (e.message, "/".join(map(str, e.path))))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
