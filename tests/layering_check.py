#!/usr/bin/env python3
"""Checks the one-way layering of the tree: api, base -> storage, p2p -> services -> api/sdk.

api/ holds the protos (the bottom layer); api/sdk is the client library, which sits on top: its
embedded (end-to-end) mode runs the gateway's pipeline in the client process.

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
    "api/sdk": {"api", "api/sdk", "base", "storage", "p2p", "services"},
    "base": {"base"},
    "storage": {"api", "base", "storage"},
    "p2p": {"api", "base", "p2p"},
    "services": {"api", "api/sdk", "base", "storage", "p2p", "services"},
}


def layer_of(path):
    """The layer a repository path (or include path) belongs to, or None."""
    if path.startswith("api/sdk/") or path == "api/sdk":
        return "api/sdk"
    top = path.split("/")[0]
    return top if top in ALLOWED else None
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
LABEL = re.compile(r'"//([a-z_0-9/]+)[:"]')


def violations(root):
    for layer, allowed in ALLOWED.items():
        for dirpath, _, files in os.walk(os.path.join(root, layer)):
            for name in files:
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                if layer_of(rel) != layer:
                    continue  # api/sdk files are checked as their own layer
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
                            target = layer_of(match.group(1))
                            if target is not None and target not in allowed:
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
