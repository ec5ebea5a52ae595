#!/usr/bin/env bash
# Install Graphviz (`dot`) when absent (Debian/Ubuntu): only `make diagram` renders with it.
set -euo pipefail
command -v dot >/dev/null && exit 0
echo "Graphviz not found: installing with apt-get" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq graphviz >/dev/null
dot -V
