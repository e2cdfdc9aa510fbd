"""The reference files' JSON layout, shared by the make_torch_*.py generators.

{generator, torch, dtype, cases}, one case per line (compact but diff-friendly); json writes repr(float), the shortest
round-trip representation, and refuses NaN. Returns the file as read back, checked to be an exact round trip.
"""
import json


def write_reference(path, doc):
    dump = lambda o: json.dumps(o, allow_nan=False, separators=(",", ":"))
    parts = ['{"generator":' + dump(doc["generator"]),
             '"torch":' + dump(doc["torch"]),
             '"dtype":' + dump(doc["dtype"]),
             '"cases":[\n' + ",\n".join(dump(c) for c in doc["cases"]) + "\n]}"]
    with open(path, "w") as fh:
        fh.write(",\n".join(parts) + "\n")
    with open(path) as fh:
        loaded = json.load(fh)
    assert loaded == json.loads(json.dumps(doc))  # exact round trip
    assert list(loaded) == ["generator", "torch", "dtype", "cases"]
    return loaded
