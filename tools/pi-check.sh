#!/bin/sh
# make pi-check: the appliance on a Raspberry Pi OS-like system without a Pi.
#
# Builds (once, cached) a Debian 12 arm64 root with debootstrap, runs it under qemu-user-static
# (binfmt_misc), installs the project there as `muontra appliance install` does (a bootstrap
# venv from PyPI's aarch64 wheels, --only-binary: nothing may compile), starts the kiosk,
# loads the demo, lends a book through the API and reads a real photo with scan-image.
# Prints the time of each step. Slow (tens of minutes emulated) and needs root: not in CI.
set -eu

WHEEL=$1
PHOTO=$2
WORK=${PI_CHECK_DIR:-/var/tmp/muontra-pi-check}
ROOTFS=$WORK/rootfs
MIRROR=${PI_CHECK_MIRROR:-http://deb.debian.org/debian}

step_start=$(date +%s)
step() {
    now=$(date +%s)
    echo "pi-check: [$((now - step_start)) s] $*"
    step_start=$now
}

[ "$(id -u)" = 0 ] || { echo "pi-check needs root (debootstrap, chroot, mount)"; exit 2; }
for tool in debootstrap qemu-aarch64-static; do
    command -v $tool >/dev/null || { echo "pi-check needs $tool: apt-get install --no-install-recommends debootstrap qemu-user-static binfmt-support"; exit 2; }
done
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64

mkdir -p "$WORK"
if [ ! -e "$ROOTFS/.pi-check-ready" ]; then
    rm -rf "$ROOTFS"
    debootstrap --arch=arm64 --variant=minbase \
        --include=python3,python3-venv,libzbar0,fonts-dejavu-core,ca-certificates,libatomic1 \
        bookworm "$ROOTFS" "$MIRROR"
    touch "$ROOTFS/.pi-check-ready"
    step "debootstrap: a Debian 12 arm64 root"
fi

cleanup() {
    for m in "$ROOTFS/dev" "$ROOTFS/proc"; do
        mountpoint -q "$m" && umount -l "$m"
    done
}
trap cleanup EXIT
mountpoint -q "$ROOTFS/proc" || mount -t proc proc "$ROOTFS/proc"
mountpoint -q "$ROOTFS/dev" || mount --bind /dev "$ROOTFS/dev"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
# Trust what this machine trusts (a proxy's CA, if any) for pip inside the root.
cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/host-ca-bundle.crt"
rm -rf "$ROOTFS/tmp/pi-check" && mkdir -p "$ROOTFS/tmp/pi-check"
cp "$WHEEL" "$PHOTO" "$ROOTFS/tmp/pi-check/"
wheel=/tmp/pi-check/$(basename "$WHEEL")
photo=/tmp/pi-check/$(basename "$PHOTO")

inside() {
    chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt PIP_DISABLE_PIP_VERSION_CHECK=1 /bin/sh -ec "$1"
}

inside 'uname -m; python3 --version'
inside "[ -x /opt/bootstrap/bin/python ] || python3 -m venv /opt/bootstrap
        /opt/bootstrap/bin/pip install -q --only-binary=:all: --force-reinstall --no-deps $wheel
        /opt/bootstrap/bin/pip install -q --only-binary=:all: $wheel"
step "bootstrap venv: every dependency from an aarch64 wheel"

inside "rm -rf /srv/appliance
        /opt/bootstrap/bin/muontra --lang en appliance install --root /srv/appliance --role kiosk \
            --wheel $wheel --no-apt --port 5000 --timeout 600"
step "muontra appliance install --role kiosk (its own venv from PyPI, kiosk started from its unit, /healthz answered)"

inside "/srv/appliance/opt/muontra/current/bin/muontra --lang en demo --data /srv/appliance/var/lib/muontra/kiosk"
step "muontra demo"

inside "/opt/bootstrap/bin/python - <<'PY'
import json, urllib.request
request = urllib.request.Request('http://127.0.0.1:5000/api/checkout', method='POST',
    data=json.dumps({'patron': 'HS6A102', 'item': 'TN-00002', 'lang': 'en'}).encode(),
    headers={'Content-Type': 'application/json'})
answer = json.load(urllib.request.urlopen(request, timeout=120))
print('checkout:', answer['loan'])
PY"
step "checkout through the API"

inside "/srv/appliance/opt/muontra/current/bin/muontra scan-image $photo"
step "scan-image of a real photo"

inside "/srv/appliance/opt/muontra/current/bin/muontra --lang en backup --data /srv/appliance/var/lib/muontra/kiosk --no-push"
step "muontra backup"

inside "/opt/bootstrap/bin/muontra --lang en appliance uninstall --root /srv/appliance"
step "muontra appliance uninstall"
echo "pi-check: OK"
