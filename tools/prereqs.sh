#!/bin/sh
# What `make book` and `make test` need besides make itself, checked before anything is installed:
# one line per missing prerequisite, naming it and how to get it, then exit 1.
#   tools/prereqs.sh book   Python 3.10+ with venv, and npm (MathJax) unless MathJax is unpacked
#   tools/prereqs.sh test   the same, and Chromium for the browser test, or apt-get and root to install it
# The Makefile passes PYTHON; CHROMIUM_PATH names a Chromium binary as tests/test_browser.py reads it.
# PREREQ_UID and PREREQ_SYSTEM_CHROMIUM stand in for `id -u` and /usr/bin/chromium (the tests check
# the messages of a machine without root and without Chromium).
set -u
goal=${1:-book}
PYTHON=${PYTHON:-python3}
MATHJAX_STAMP=${MATHJAX_STAMP:-}
missing=0
say() { echo "missing prerequisite: $*" >&2; missing=$((missing + 1)); }

version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
major=${version%%.*}
minor=${version#*.}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    say "Python 3.10 or newer: no '$PYTHON' on PATH (install python3, or name one: make PYTHON=python3.12 $goal)"
elif [ -z "$version" ]; then
    say "Python 3.10 or newer: '$PYTHON' does not run (name another: make PYTHON=python3.12 $goal)"
elif [ "$major" -lt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -lt 10 ]; }; then
    say "Python 3.10 or newer: '$PYTHON' is Python $version (name a newer one: make PYTHON=python3.12 $goal)"
elif [ ! -x .venv/bin/python ] && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    say "the venv module of '$PYTHON' with ensurepip, which creates .venv (Debian/Ubuntu: apt-get install python3-venv)"
fi

if [ -z "$MATHJAX_STAMP" ] || [ ! -e "$MATHJAX_STAMP" ]; then
    command -v npm >/dev/null 2>&1 \
        || say "npm, which fetches MathJax so that the book's math renders offline (Debian/Ubuntu: apt-get install npm)"
fi

if [ "$goal" = test ]; then
    chromium=${CHROMIUM_PATH:-}
    if [ -n "$chromium" ]; then
        [ -x "$chromium" ] || say "Chromium for the browser test: CHROMIUM_PATH=$chromium is not an executable file"
    elif ! { [ -x "${PREREQ_SYSTEM_CHROMIUM:-/usr/bin/chromium}" ] || command -v chromium >/dev/null 2>&1; }; then
        if ! command -v apt-get >/dev/null 2>&1 || [ "${PREREQ_UID:-$(id -u)}" != 0 ]; then
            say "Chromium for the browser test: none at /usr/bin/chromium or on PATH, and no apt-get run as root" \
                "to install it (install it: sudo apt-get install chromium; or name one: CHROMIUM_PATH=/path/to/chromium)"
        fi
    fi
fi

[ "$missing" = 0 ] || { echo "make $goal stopped before installing anything: $missing prerequisite(s) missing (see the README)" >&2; exit 1; }
