#!/usr/bin/env python3
"""The flag reference in docs/configuration.md, from the binaries themselves.

Runs each binary with --helpfull (services/common/config_sources.cc prints every Tessera flag as
`    --name (help); default: "value"; env: TESSERA_NAME;` under `  Flags from FILE:`), renders one
table per binary, and either checks that the generated part of the document is exactly that
(default; exit 1 with a diff otherwise) or rewrites it (--write). //docs:configuration_test runs
the check against the real binaries, so the reference cannot go stale: after adding or changing
a flag, rebuild and run

    bazel build //services/node:tessera-node //services/s3:tessera-s3 \\
        //services/gatewayd:tessera-gateway //services/cli:tessera
    python3 docs/configuration_gen.py --write docs/configuration.md

usage: configuration_gen.py [--write] DOC [NAME=BINARY ...]
Without NAME=BINARY pairs it uses the four binaries under bazel-bin/.
"""
import difflib
import re
import subprocess
import sys

BINARIES = [
    ("tessera-node", "bazel-bin/services/node/tessera-node"),
    ("tessera-s3", "bazel-bin/services/s3/tessera-s3"),
    ("tessera-gateway", "bazel-bin/services/gatewayd/tessera-gateway"),
    ("tessera", "bazel-bin/services/cli/tessera"),
]
BEGIN = "<!-- BEGIN GENERATED: python3 docs/configuration_gen.py --write docs/configuration.md -->"
END = "<!-- END GENERATED -->"
FILE_LINE = re.compile(r"^  Flags from (\S+):$")
FLAG_LINE = re.compile(r'^    --([a-z0-9_]+) \((.*)\); default: "(.*)"; env: (TESSERA_[A-Z0-9_]+);$')
OWN_DIRS = ("services/", "base/", "p2p/", "storage/")


def flags_of(name, binary):
    """[(flag, help, default, env, file)] of the Tessera flags `binary --helpfull` lists."""
    run = subprocess.run([binary, "--helpfull"], capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        sys.exit(f"{name}: `{binary} --helpfull` exited {run.returncode}: {run.stderr}")
    flags, current = [], None
    for line in run.stdout.splitlines():
        m = FILE_LINE.match(line)
        if m:
            current = m.group(1)
            continue
        if line.startswith("    --"):
            m = FLAG_LINE.match(line)
            if not m:
                sys.exit(f"{name}: cannot parse --helpfull line: {line!r}")
            if current is None:
                sys.exit(f"{name}: flag line outside a `Flags from` block: {line!r}")
            if current.startswith(OWN_DIRS):
                flags.append(m.groups() + (current,))
    if not flags:
        sys.exit(f"{name}: no flags found in --helpfull output:\n{run.stdout}")
    return flags


def cell(text):
    return text.replace("|", "\\|")


def render(tables):
    out = [BEGIN, ""]
    for name, flags in tables:
        out += [f"### `{name}`", "", "| Flag | Environment variable | Default | Description |",
                "|---|---|---|---|"]
        for flag, help_text, default, env, _ in sorted(flags):
            shown = f"`{cell(default)}`" if default else "(empty)"
            out.append(f"| `--{flag}` | `{env}` | {shown} | {cell(help_text)} |")
        out.append("")
    out.append(END)
    return "\n".join(out)


def main(argv):
    write = "--write" in argv
    argv = [a for a in argv if a != "--write"]
    if not argv:
        sys.exit(__doc__)
    doc_path, pairs = argv[0], argv[1:]
    binaries = [tuple(p.split("=", 1)) for p in pairs] if pairs else BINARIES
    generated = render([(name, flags_of(name, path)) for name, path in binaries])
    with open(doc_path, encoding="utf-8") as f:
        doc = f.read()
    begin, end = doc.find(BEGIN), doc.find(END)
    if begin < 0 or end < begin:
        sys.exit(f"{doc_path}: no generated section (lines {BEGIN!r} ... {END!r})")
    current = doc[begin:end + len(END)]
    if write:
        with open(doc_path, "w", encoding="utf-8") as f:
            f.write(doc[:begin] + generated + doc[end + len(END):])
        return 0
    if current == generated:
        print(f"{doc_path}: the flag reference matches the binaries")
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        current.splitlines(True), generated.splitlines(True), doc_path + " (now)",
        "generated from the binaries' --helpfull"))
    print(f"\n{doc_path} is stale: regenerate it with "
          "`python3 docs/configuration_gen.py --write docs/configuration.md` (see its docstring)")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
