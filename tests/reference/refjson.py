"""The reference files' JSON layout and the generators' common run, shared by the make_torch_*.py generators.

{generator, torch, dtype, cases}, one case per line (compact but diff-friendly); json writes repr(float), the shortest
round-trip representation, and refuses NaN. write_reference returns the file as read back, checked to be an exact round
trip; generate builds the cases first and says what it wrote; finish checks the file's size.
"""
import json
import os


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


def generate(path, generator, specs, build_case, torch, numpy, dtype="float64"):
    """Builds a case per spec (build_case(index, spec) -> (case, stats); a spec's first item is its name), writes them
    (write_reference) and prints the versions and the file written. Returns the file as read back and the stats by name."""
    cases, stats = [], {}
    for i, spec in enumerate(specs):
        case, stats[spec[0]] = build_case(i, spec)
        cases.append(case)
    loaded = write_reference(path, {"generator": generator, "torch": torch.__version__, "dtype": dtype, "cases": cases})
    assert [c["name"] for c in loaded["cases"]] == [spec[0] for spec in specs]
    print(f"torch {torch.__version__}, numpy {numpy.__version__}")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    return loaded, stats


def finish(path, max_bytes=2 * 1024 * 1024):
    """The last check of every generator: the file stays small enough to commit."""
    size = os.path.getsize(path)
    assert size < max_bytes, size
    print("all checks passed")
