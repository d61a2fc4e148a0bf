#!/usr/bin/env python3
"""Checks the one-way layering of the tree: api, base -> storage, p2p -> api/sdk -> services.

api/ holds the protos (the bottom layer); api/sdk is the client library over the gateway's API
(remote and end-to-end sealed). It depends on nothing in services/; services/ may use it (the
`tessera` CLI is an SDK user; tessera-gateway checks the SDK's call signatures). Tests of the SDK
against a real gateway live in tests/sdk/. Bazel visibility (//:layers.bzl) enforces the same
rule in the build.

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
    "api/sdk": {"api", "api/sdk", "base", "storage"},
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
# The Bazel visibility each layer's packages must declare (package groups in //:BUILD.bazel), so
# that the build itself refuses a dependency from a lower layer.
VISIBILITY = {
    "storage": "//:storage_users",
    "p2p": "//:p2p_users",
    "api/sdk": "//:sdk_users",
    "services": "//:services_users",
}
DEFAULT_VISIBILITY = re.compile(r'default_visibility\s*=\s*\["([^"]+)"\]')
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
                    yield from visibility_violations(rel, layer, path)
                else:
                    continue
                with open(path, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        for match in pattern.finditer(line):
                            target = layer_of(match.group(1))
                            if target is not None and target not in allowed:
                                yield f"{rel}:{lineno}: {layer}/ must not depend on {target}/"


def visibility_violations(rel, layer, path):
    """A BUILD file of a layer must keep its targets to the layers above (VISIBILITY)."""
    want = VISIBILITY.get(layer)
    if want is None:
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    declared = DEFAULT_VISIBILITY.search(text)
    if declared is None or declared.group(1) != want:
        yield f"{rel}: {layer}/ packages must declare default_visibility = [\"{want}\"]"
    if "//visibility:public" in text:
        yield f"{rel}: {layer}/ targets must not be public (use {want})"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    found = list(violations(root))
    for v in found:
        print(v)
    print(f"layering: {len(found)} violation(s)")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
