"""Validates each line of a JSON Lines manifest against docs/manifest.schema.json with
python3-jsonschema (Draft 2020-12) and writes the verdicts as JSON:

    /usr/bin/python3 tests/tools/manifest_schema_check.py SCHEMA MANIFEST OUT.json

OUT.json: [{"line": N (1-based), "valid": true|false, "errors": ["path: message", ...]}, ...] for
every non-blank line. A line that is not JSON is invalid. Used by tests/unit/study/test_manifest.cpp
to check that the schema and the C++ reader agree.
"""
import json
import sys

import jsonschema


def main():
    schema_path, manifest_path, out_path = sys.argv[1:4]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    verdicts = []
    with open(manifest_path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                verdicts.append({"line": number, "valid": False, "errors": [f"not JSON: {e}"]})
                continue
            errors = [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
                      for e in validator.iter_errors(value)]
            verdicts.append({"line": number, "valid": not errors, "errors": errors})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(verdicts, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
