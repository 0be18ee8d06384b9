#!/usr/bin/env bash
# Installs what the test suite runs against for real: php-cli (the platform's own signature check)
# and redis-server (the shared token store). Debian/Ubuntu; does nothing when both are present.
set -euo pipefail
need=()
command -v php >/dev/null 2>&1 || need+=(php-cli)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
((${#need[@]})) || exit 0
sudo=""
[[ $(id -u) == 0 ]] || sudo=sudo
echo "installing ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
