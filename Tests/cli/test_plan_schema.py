"""Docs/plan.schema.json describes what `hive submit` accepts: it is a valid JSON Schema, every example in
Config/plans conforms, and the mistakes users make are caught (checked with PyPI's jsonschema)."""
import json, pathlib

import jsonschema
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "Docs" / "plan.schema.json").read_text())


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("plan", sorted(p.name for p in (ROOT / "Config" / "plans").glob("*.json")))
def test_every_example_plan_conforms(plan):
    jsonschema.validate(json.loads((ROOT / "Config" / "plans" / plan).read_text()), SCHEMA)


def test_the_schema_catches_what_a_user_gets_wrong():
    bad = [
        {"goal": "g", "steps": [{"id": "a", "join": "bestest"}]},
        {"goal": "g", "steps": [{"id": "a b"}]},
        {"goal": "g", "steps": [{"id": "a", "n": 0}]},
        {"goal": "g", "steps": [{"id": "a", "tier": "gpu"}]},
        {"root": {"kind": "fork", "children": []}},
        {"goal": "g", "root": {"kind": "noop"}},
        {"root": {"kind": "model", "input": {"prompt": "p", "top_k": 3000000000}}},
        {"root": {"kind": "wasm", "input": {"module": "0" * 64, "memory_mb": 1152921504606846976}}},
        {"root": {"kind": "noop"}, "budget": {"max_depth": 1000}},
        {"name": "n" * 2000, "root": {"kind": "noop"}},
        {"root": {"kind": "exce"}},  # a typo'd kind: no backend runs it
        {"root": {"kind": "plan"}},
    ]
    for doc in bad:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, SCHEMA)
