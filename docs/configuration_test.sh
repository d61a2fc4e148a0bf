#!/usr/bin/env bash
# Checks that docs/configuration.md lists exactly the flags (names, defaults, descriptions,
# environment variables) the real binaries report with --helpfull. Args: DOC NAME=BINARY...
set -euo pipefail
exec python3 "${TEST_SRCDIR}/${TEST_WORKSPACE}/docs/configuration_gen.py" "$@"
