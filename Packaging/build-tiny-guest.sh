#!/usr/bin/env bash
# Builds veem's tiny bootable guest from Debian packages alone: the cloud kernel (its virtio drivers as modules) and
# busybox in a newc initramfs. The packages are unpacked into the cache, never installed on the host.
#
#   Packaging/build-tiny-guest.sh [IMAGE_DIR]     (default /var/lib/veem/images)
#
# Writes IMAGE_DIR/tiny/{vmlinuz,initramfs.cpio.gz} and IMAGE_DIR/tiny.json, the image description agents read.
# The guest prints "VEEM-GUEST-BOOTED" on its serial console once up, and powers off on the ACPI power button.
# With a NIC it first takes its address by DHCP ("VEEM-GUEST-NET eth0 <address>/<prefix> <mac>"), and then for two
# minutes looks for neighbours at .10–.29 of its subnet by ARP ("VEEM-GUEST-REACH <address> <mac>" for each found):
# what tests of networks read. Its web server has /blob (3,000,000 bytes) and /cgi-bin/sink (takes a POST).
set -euo pipefail
images=${1:-/var/lib/veem/images}
out="$images/tiny"
version=4
if [[ -s "$out/vmlinuz" && -s "$out/initramfs.cpio.gz" && -s "$images/tiny.json" \
      && "$(cat "$out/version" 2>/dev/null)" == "$version" ]]; then
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
ip link set lo up
address=""
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  udhcpc -i eth0 -f -q -n -t 20 -T 1 -s /bin/veem-dhcp >/dev/null 2>&1
  address=$(ip -4 -o addr show dev eth0 | awk '{print $4}' | head -n 1)
  echo "VEEM-GUEST-NET eth0 ${address:-none} $(cat /sys/class/net/eth0/address)"
fi
echo "veem tiny guest $(hostname) ${address}" > /www/index.html
# For transfers in tests: 3,000,000 bytes to fetch, and a sink to post to.
dd if=/dev/zero of=/www/blob bs=1000 count=3000 2>/dev/null
httpd -p 80 -h /www
echo "VEEM-GUEST-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
if [ -n "$address" ]; then
  self=${address%/*}
  net=${self%.*}
  for round in $(seq 1 40); do
    probes=""
    for n in $(seq 10 29); do
      [ "$net.$n" = "$self" ] || [ -e /tmp/reach.$n ] && continue
      (mac=$(arping -c 1 -w 1 -I eth0 "$net.$n" 2>/dev/null | sed -n 's/.*\[\(.*\)\].*/\1/p' | head -n 1)
       [ -n "$mac" ] && echo "$mac" > /tmp/reach.$n && echo "VEEM-GUEST-REACH $net.$n $mac") &
      probes="$probes $!"
    done
    # This round's probes only: a bare wait would wait for the power-button watcher too, forever.
    [ -n "$probes" ] && wait $probes
    sleep 2
  done
fi
while true; do sleep 3600; done
INIT
chmod +x "$root/init"
# udhcpc's hook: the lease's address, prefix, MTU and (when the network has one) router.
cat > "$root/bin/veem-dhcp" <<'HOOK'
#!/bin/busybox sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
    ;;
esac
exit 0
HOOK
chmod +x "$root/bin/veem-dhcp"
mkdir -p "$root/www/cgi-bin"
cat > "$root/www/cgi-bin/sink" <<'SINK'
#!/bin/busybox sh
head -c "${CONTENT_LENGTH:-0}" > /dev/null
printf 'Content-Type: text/plain\r\n\r\nok\n'
SINK
chmod +x "$root/www/cgi-bin/sink"
(cd "$root" && find . | ../pkg/bin/busybox cpio -o -H newc 2>/dev/null | gzip -9) > initramfs.cpio.gz

mkdir -p "$out"
cp "pkg/boot/vmlinuz-$release" "$out/vmlinuz"
cp initramfs.cpio.gz "$out/initramfs.cpio.gz"
echo "$version" > "$out/version"
cat > "$images/tiny.json" <<JSON
{"name": "tiny", "kernel": "tiny/vmlinuz", "initrd": "tiny/initramfs.cpio.gz",
 "cmdline": "console=ttyS0 quiet panic=-1", "bootMarker": "VEEM-GUEST-BOOTED"}
JSON
echo "tiny guest built in $out ($(du -sh "$out" | cut -f1))"
