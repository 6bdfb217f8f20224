#!/usr/bin/env bash
# Builds veem's tiny bootable guest from Debian packages alone: the cloud kernel (its virtio drivers as modules) and
# busybox in a newc initramfs. The packages are unpacked into the cache, never installed on the host.
#
#   Packaging/build-tiny-guest.sh [IMAGE_DIR]     (default /var/lib/veem/images)
#
# Writes IMAGE_DIR/tiny/{vmlinuz,initramfs.cpio.gz} and IMAGE_DIR/tiny.json, the image description agents read.
# The guest prints "VEEM-GUEST-BOOTED" on its serial console once up, and powers off on the ACPI power button.
set -euo pipefail
images=${1:-/var/lib/veem/images}
out="$images/tiny"
if [[ -s "$out/vmlinuz" && -s "$out/initramfs.cpio.gz" && -s "$images/tiny.json" ]]; then
  echo "tiny guest already in $out"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[[ -n "$kernel_pkg" ]] || { echo "cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
# As root into a private directory: no need for apt's _apt sandbox user.
apt-get download -q -o APT::Sandbox::User=root "$kernel_pkg" busybox-static >/dev/null
mkdir pkg
for deb in ./*.deb; do dpkg-deb -x "$deb" pkg; done
release=${kernel_pkg#linux-image-}
modules="pkg/lib/modules/$release/kernel"

root=initramfs
mkdir -p "$root"/{bin,dev,proc,sys,lib/modules,www,tmp}
cp pkg/bin/busybox "$root/bin/busybox"
# Load order matters: each module's dependencies first.
for module in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev \
              drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci net/core/failover \
              drivers/net/net_failover drivers/net/virtio_net drivers/block/virtio_blk drivers/input/evdev \
              drivers/acpi/button; do
  cp "$modules/$module.ko" "$root/lib/modules/"
done
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover \
         virtio_net virtio_blk evdev button; do
  insmod /lib/modules/$m.ko 2>/dev/null
done
hostname veem-guest
# A graceful SHUTDOWN arrives as the ACPI power button: power off when it is pressed.
for event in /sys/class/input/event*; do
  if grep -q "Power Button" "$event/device/name" 2>/dev/null; then
    (dd if=/dev/input/${event##*/} bs=24 count=1 >/dev/null 2>&1; echo "VEEM-GUEST-POWEROFF"; poweroff -f) &
  fi
done
echo "veem tiny guest" > /www/index.html
httpd -p 80 -h /www
echo "VEEM-GUEST-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
while true; do sleep 3600; done
INIT
chmod +x "$root/init"
(cd "$root" && find . | ../pkg/bin/busybox cpio -o -H newc 2>/dev/null | gzip -9) > initramfs.cpio.gz

mkdir -p "$out"
cp "pkg/boot/vmlinuz-$release" "$out/vmlinuz"
cp initramfs.cpio.gz "$out/initramfs.cpio.gz"
cat > "$images/tiny.json" <<JSON
{"name": "tiny", "kernel": "tiny/vmlinuz", "initrd": "tiny/initramfs.cpio.gz",
 "cmdline": "console=ttyS0 quiet panic=-1", "bootMarker": "VEEM-GUEST-BOOTED"}
JSON
echo "tiny guest built in $out ($(du -sh "$out" | cut -f1))"
