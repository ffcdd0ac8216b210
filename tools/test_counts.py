"""How many tests the suite holds, per folder of tests/, and how many of them `make test`
runs (not marked slow) and `make test-slow` runs (marked slow): pytest's own collection
(`pytest --collect-only -q`), nothing counted by hand. Prints a Markdown table.

    python tools/test_counts.py                       # the table
    python tools/test_counts.py --write docs/testing.md   # the table between the page's
                                                          # <!-- test_counts --> markers

Exits 1 when pytest cannot collect the suite (an import error, say), naming the errors.
"""

import argparse
import collections
import contextlib
import io
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- test_counts -->", "<!-- /test_counts -->"


class Collected:
    """A pytest plugin that keeps each collected test's id and whether it is marked slow."""

    def __init__(self):
        self.tests = []

    def pytest_collection_finish(self, session):
        self.tests = [(item.nodeid, item.get_closest_marker("slow") is not None) for item in session.items]


def collect(tests_dir: Path):
    """(test id, marked slow) of every test pytest collects in TESTS_DIR; pytest's own
    listing is printed only when the collection fails."""
    plugin = Collected()
    if str(ROOT) not in sys.path:  # as `python -m pytest` from the checkout: tests import benchmarks/
        sys.path.insert(0, str(ROOT))
    listing = io.StringIO()
    with contextlib.redirect_stdout(listing):
        status = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", str(tests_dir)], plugins=[plugin])
    if status != 0:
        print(listing.getvalue()[-5000:], file=sys.stderr)
        raise SystemExit(f"test_counts: pytest could not collect {tests_dir} (exit status {int(status)})")
    return plugin.tests


def table(tests) -> str:
    """| folder | tests | make test | make test-slow |, one row a folder, then the total."""
    per_folder = collections.defaultdict(lambda: [0, 0])
    for nodeid, slow in tests:
        folder = str(Path(nodeid.split("::", 1)[0]).parent)
        per_folder[folder][1 if slow else 0] += 1
    rows = ["| folder | tests | `make test` (not slow) | `make test-slow` (slow) |", "|---|--:|--:|--:|"]
    for folder in sorted(per_folder):
        quick, slow = per_folder[folder]
        name = f"`{folder}/*.py`" if folder == "tests" else f"`{folder}/`"  # the files at the top, then each folder
        rows.append(f"| {name} | {quick + slow} | {quick} | {slow} |")
    quick = sum(q for q, _ in per_folder.values())
    slow = sum(s for _, s in per_folder.values())
    rows.append(f"| all | {quick + slow} | {quick} | {slow} |")
    return "\n".join(rows)


def write(page: Path, text: str):
    """Replace what stands between the page's markers with TEXT."""
    content = page.read_text(encoding="utf-8")
    if content.count(BEGIN) != 1 or content.count(END) != 1 or content.index(BEGIN) > content.index(END):
        raise SystemExit(f"test_counts: {page} needs one {BEGIN} ... {END} pair")
    head, rest = content.split(BEGIN, 1)
    page.write_text(f"{head}{BEGIN}\n{text}\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", type=Path, help="a Markdown page whose <!-- test_counts --> block gets the table")
    args = parser.parse_args(argv)
    text = table(collect(ROOT / "tests"))
    print(text)
    if args.write:
        write(args.write, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
