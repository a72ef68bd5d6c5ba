#!/usr/bin/env bash
# Installs the Debian packages Cocoon's tests and `cocoon up` use as real peers:
#   containerd (containerd-shim-runc-v2, the pass-through CRI runtime), runc, busybox-static
#   (rootfs for test images), containernetworking-plugins (CNI), docker-registry (a real OCI
#   registry on loopback), iproute2 (network namespaces), build tools for the vsock addon.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail
PKGS=(containerd runc busybox-static containernetworking-plugins docker-registry iproute2 python3 make g++ ca-certificates)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all Debian packages present"
  exit 0
fi
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian registry package starts a system service on install; tests start their own.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi
echo "install-deps: done"
