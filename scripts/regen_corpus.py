#!/usr/bin/env python3
"""Regenerate the `expected` sections of the FreeMarker conformance corpus with the real FreeMarker.

Corpus format (crates/freemarker/tests/corpus/*.ftlcases, see /work/notes/freemarker-api.md):
marker lines start with "#### "; each case is `#### case: NAME`, optional `#### settings`
(name=value lines), `#### template`, `#### input` (NDJSON, blank lines ignored), `#### expected`
(one oracle line per input line). Everything except the `expected` sections is kept byte for byte,
so running this twice changes nothing.

By default all cases run in ONE JVM through scripts/ftl-bench/FtlBatch.java, which copies the
oracle's configuration exactly. `--via-oracle` calls /work/shared/oracle/ftl-oracle once per case
instead (slow, ~1.3 s a case); `--check` computes both and reports any difference without writing.

usage: regen_corpus.py [--via-oracle | --check] [FILE.ftlcases ...]   (default: every corpus file)
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "crates" / "freemarker" / "tests" / "corpus"
ORACLE = Path(os.environ.get("FTL_ORACLE", "/work/shared/oracle/ftl-oracle"))
BUILD = ROOT / "scripts" / "ftl-bench" / "build.sh"
MARKER = "#### "
SECTIONS = ("settings", "template", "input", "expected")


class Case:
    """One case: its name, sections (lists of raw lines, '\n' kept) and the lines before it."""

    def __init__(self, name, header_line):
        self.name = name
        self.header_line = header_line
        self.order = []  # section names in file order
        self.sections = {}

    def text(self, section):
        return "".join(self.sections.get(section, []))

    def template(self):
        # the text up to the next marker, minus the ONE final newline before the marker
        t = self.text("template")
        return t[:-1] if t.endswith("\n") else t

    def settings(self):
        return [ln.strip() for ln in self.sections.get("settings", []) if ln.strip()]

    def inputs(self):
        return [ln.rstrip("\n") for ln in self.sections.get("input", []) if ln.strip()]


def parse(path):
    """Returns (preamble lines, [Case]); raises ValueError on a malformed file."""
    data = path.read_bytes().decode("utf-8")
    # split on '\n' only (not str.splitlines) so CRs inside templates survive
    lines = [ln + "\n" for ln in data.split("\n")]
    lines[-1] = lines[-1][:-1]
    if lines[-1] == "":
        lines.pop()
    preamble, cases, names = [], [], set()
    case, section = None, None
    for no, ln in enumerate(lines, 1):
        if ln.startswith(MARKER):
            word = ln[len(MARKER):].rstrip("\r\n")
            if word.startswith("case:"):
                name = word[len("case:"):].strip()
                if not name or name in names:
                    raise ValueError(f"{path}:{no}: empty or duplicate case name {name!r}")
                names.add(name)
                case, section = Case(name, ln), None
                cases.append(case)
                continue
            if word not in SECTIONS:
                raise ValueError(f"{path}:{no}: unknown marker {word!r}")
            if case is None or word in case.sections:
                raise ValueError(f"{path}:{no}: section {word!r} outside a case or repeated")
            section = word
            case.order.append(word)
            case.sections[word] = []
            continue
        if case is None:
            preamble.append(ln)
        elif section is None:
            if ln.strip():
                raise ValueError(f"{path}:{no}: text between case marker and first section")
        else:
            case.sections[section].append(ln)
    for c in cases:
        if "template" not in c.sections or not c.inputs():
            raise ValueError(f"{path}: case {c.name}: needs a template and at least one input line")
    return preamble, cases


def render(preamble, cases, results):
    """The file text with each case's expected section replaced by results[case.name]."""
    out = list(preamble)
    for i, c in enumerate(cases):
        out.append(c.header_line)
        for s in c.order:
            if s == "expected":
                continue
            out.append(MARKER + s + "\n")
            lines = list(c.sections[s])
            if s != "template":  # blank lines there mean nothing: keep one only between cases
                while lines and not lines[-1].strip():
                    lines.pop()
            out.extend(lines)
        out.append(MARKER + "expected\n")
        out.extend(line + "\n" for line in results[c.name])
        if i + 1 < len(cases):
            out.append("\n")
    return "".join(out)


def run_batch(jobs):
    """Runs jobs [(template, settings, inputs)] through FtlBatch; returns [[oracle line]]."""
    cp = subprocess.run([str(BUILD)], check=True, capture_output=True, text=True).stdout.strip()
    with tempfile.NamedTemporaryFile("w", suffix=".ndjson", encoding="utf-8", delete=False) as f:
        for template, settings, inputs in jobs:
            f.write(json.dumps({"template": template, "settings": settings, "inputs": inputs}) + "\n")
        jobs_file = f.name
    try:
        proc = subprocess.run(["java", "-Xss4m", "-cp", cp, "FtlBatch", jobs_file], capture_output=True)
        if proc.returncode != 0:
            raise RuntimeError("FtlBatch failed:\n" + proc.stderr.decode("utf-8", "replace")[-3000:])
    finally:
        os.unlink(jobs_file)
    results = [json.loads(ln) for ln in proc.stdout.decode("utf-8").split("\n") if ln.strip()]
    if len(results) != len(jobs):
        raise RuntimeError(f"FtlBatch answered {len(results)} jobs of {len(jobs)}")
    return results


def run_oracle(template, settings, inputs):
    """One case through the reference oracle script itself."""
    with tempfile.TemporaryDirectory() as d:
        tpl, inp = Path(d) / "t.ftl", Path(d) / "in.ndjson"
        tpl.write_bytes(template.encode("utf-8"))
        inp.write_bytes("".join(i + "\n" for i in inputs).encode("utf-8"))
        proc = subprocess.run([str(ORACLE), str(tpl), str(inp), *settings], capture_output=True)
    if proc.returncode != 0:  # e.g. a StackOverflowError, which FtlOracle does not catch
        return ["ftl-oracle failed: " + proc.stderr.decode("utf-8", "replace").strip()[:200]]
    return [ln for ln in proc.stdout.decode("utf-8").split("\n") if ln.strip()]


def main(argv):
    mode = "batch"
    if argv and argv[0] in ("--via-oracle", "--check"):
        mode, argv = argv[0][2:], argv[1:]
    files = [Path(a) for a in argv] or sorted(CORPUS.glob("*.ftlcases"))
    parsed = [(f, *parse(f)) for f in files]
    jobs = [(c.template(), c.settings(), c.inputs()) for _, _, cases in parsed for c in cases]
    if mode in ("batch", "check"):
        answers = run_batch(jobs)
    if mode in ("via-oracle", "check"):
        reference = [run_oracle(*job) for job in jobs]
    if mode == "check":
        bad = [(job, a, r) for job, a, r in zip(jobs, answers, reference) if a != r]
        for job, a, r in bad:
            print(f"DIFFERENT: {job[0][:60]!r}\n  batch:  {a}\n  oracle: {r}")
        print(f"checked {len(jobs)} cases: {len(jobs) - len(bad)} identical, {len(bad)} different")
        return 1 if bad else 0
    if mode == "via-oracle":
        answers = reference
    k = 0
    for f, preamble, cases in parsed:
        results = {}
        for c in cases:
            lines = answers[k]
            k += 1
            if len(lines) != len(c.inputs()) or any("job_failed" in ln for ln in lines):
                raise RuntimeError(f"{f.name}: case {c.name}: oracle failed: {lines}")
            results[c.name] = lines
        new = render(preamble, cases, results)
        if new.encode("utf-8") != f.read_bytes():
            f.write_bytes(new.encode("utf-8"))
            print(f"updated {f.name} ({len(cases)} cases)")
        else:
            print(f"unchanged {f.name} ({len(cases)} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
