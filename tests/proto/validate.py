#!/usr/bin/env python3
"""Validates JSON lines against a schema of proto/.

    tests/proto/validate.py SCHEMA JSONL

Every *.schema.json beside SCHEMA is loaded (they refer to each other by
file name). Beyond plain JSON Schema 2020-12:

- contentSchema is an assertion, not only an annotation, where
  contentMediaType is application/json: a payload string must be JSON text
  whose value is valid against contentSchema (the schemas describe record
  values that travel as bytes);
- a line must be strict JSON: no duplicate member names, no NaN or
  Infinity (Python's json module accepts both).

Exit status: 0 every line valid; 1 a line invalid (each one reported, up to
a limit); 2 bad arguments, an unreadable file or an invalid schema.
"""
import json
import pathlib
import sys

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

try:  # jsonschema >= 4.18 resolves references through `referencing`
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012
except ImportError:  # Debian bookworm's python3-jsonschema 4.10
    Registry = None

MAX_REPORTED = 20
MAX_LEAVES = 6


class StrictJSONError(ValueError):
    pass


def no_duplicates(pairs):
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise StrictJSONError(f"duplicate member name(s): {', '.join(dup)}")
    return dict(pairs)


def no_constants(name):
    raise StrictJSONError(f"{name} is not JSON")


def strict_loads(text):
    return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)


def content_schema(validator, subschema, instance, schema):
    """contentSchema as an assertion for application/json strings."""
    if schema.get("contentMediaType") != "application/json" or not isinstance(instance, str):
        return
    try:
        value = strict_loads(instance)
    except ValueError as e:
        yield ValidationError(f"payload is not JSON text: {e}")
        return
    yield from validator.descend(value, subschema, schema_path="contentSchema")


ContentValidator = jsonschema.validators.extend(
    Draft202012Validator, {"contentSchema": content_schema})


def load_schemas(directory):
    """Every *.schema.json of directory, by file URI; checks each."""
    schemas = {}
    for path in sorted(directory.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        # jsonschema picks a schema's validator class by its $schema, even
        # behind a $ref: without it, ours (with contentSchema) is kept.
        del schema["$schema"]
        schemas[path.resolve().as_uri()] = schema
    return schemas


def validator_for(schema_path):
    schemas = load_schemas(schema_path.parent)
    uri = schema_path.resolve().as_uri()
    if uri not in schemas:
        raise FileNotFoundError(f"{schema_path}: not a *.schema.json file")
    # The schemas have no $id: each one's base URI is where it was loaded
    # from, so the root is reached through a reference to that URI.
    root = {"$ref": uri}
    if Registry is not None:
        registry = Registry().with_resources(
            (u, Resource.from_contents(s, default_specification=DRAFT202012))
            for u, s in schemas.items())
        return ContentValidator(root, registry=registry)
    # RefResolver files the referrer under base_uri: not the schema's URI.
    resolver = jsonschema.RefResolver(base_uri="", referrer=root, store=schemas)
    return ContentValidator(root, resolver=resolver)


def leaves(errors):
    """The errors without sub-errors: under a oneOf, each branch's own."""
    for error in errors:
        if error.context:
            yield from leaves(error.context)
        else:
            yield error


def describe(errors):
    """Every distinct leaf error (a record failing a oneOf fails each of
    its branches for its own reasons), and where."""
    seen = []
    for error in leaves(errors):
        where = "/".join(str(p) for p in error.absolute_path) or "(the record)"
        text = f"at {where}: {error.message[:200]}"
        if text not in seen:
            seen.append(text)
    return "; or ".join(seen[:MAX_LEAVES]) + ("; ..." if len(seen) > MAX_LEAVES else "")


def main(argv):
    if len(argv) != 3:
        print("usage: validate.py SCHEMA JSONL", file=sys.stderr)
        return 2
    schema_path, jsonl = pathlib.Path(argv[1]), pathlib.Path(argv[2])
    try:
        validator = validator_for(schema_path)
        lines = jsonl.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        print(f"validate.py: {e}", file=sys.stderr)
        return 2
    invalid = 0
    for number, line in enumerate(lines, 1):
        try:
            errors = list(validator.iter_errors(strict_loads(line)))
            problem = describe(errors) if errors else None
        except ValueError as e:
            problem = f"not JSON: {e}"
        if problem:
            invalid += 1
            if invalid <= MAX_REPORTED:
                print(f"{jsonl}:{number}: {problem}\n    {line[:300]}", file=sys.stderr)
    if invalid:
        print(f"{jsonl}: {invalid} of {len(lines)} record(s) invalid against {schema_path.name}",
              file=sys.stderr)
        return 1
    print(f"{jsonl}: {len(lines)} record(s) valid against {schema_path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
