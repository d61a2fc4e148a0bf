#!/usr/bin/env python3
"""Checks the one-way layering of the tree: api, base -> storage, p2p -> services.

Scans every C++ source and BUILD file under the layered directories for #include lines and Bazel
labels that reach a layer they must not. Prints each violation and exits 1 if there is any.
usage: layering_check.py [REPO_ROOT]
"""
import os
import re
import sys

# What each top-level directory may depend on (besides itself and third_party).
ALLOWED = {
    "api": {"api"},
    "base": {"base"},
    "storage": {"api", "base", "storage"},
    "p2p": {"api", "base", "p2p"},
    "services": {"api", "base", "storage", "p2p", "services"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
LABEL = re.compile(r'"//([a-z_0-9]+)[/:]')


def violations(root):
    for layer, allowed in ALLOWED.items():
        for dirpath, _, files in os.walk(os.path.join(root, layer)):
            for name in files:
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                if name.endswith((".h", ".cc", ".proto")):
                    pattern = INCLUDE if not name.endswith(".proto") else re.compile(
                        r'^\s*import\s+"([^"]+)"')
                elif name in ("BUILD.bazel", "BUILD"):
                    pattern = LABEL
                else:
                    continue
                with open(path, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        for match in pattern.finditer(line):
                            target = match.group(1).split("/")[0]
                            if target in ALLOWED and target not in allowed:
                                yield f"{rel}:{lineno}: {layer}/ must not depend on {target}/"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    found = list(violations(root))
    for v in found:
        print(v)
    print(f"layering: {len(found)} violation(s)")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
