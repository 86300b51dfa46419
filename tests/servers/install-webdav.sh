#!/usr/bin/env bash
# install-webdav.sh: idempotent apt-get install of the three WebDAV test
# servers used by vault-webdav/tests (Apache mod_dav, rclone, SabreDAV 1.8
# under php -S). Does not start the system apache2 (policy-rc.d while apt runs).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
vt_require_root
PKGS=(apache2 apache2-utils rclone php-cli php-sabre-dav php-xml php-mbstring openssl curl)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  vt_log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -o DPkg::Lock::Timeout=600 -qq
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}"
else
  vt_log "all WebDAV test packages present"
fi
