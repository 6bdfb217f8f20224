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
# Once booted it asks the metadata service (169.254.169.254, IMDSv2 first) for its instance id
# ("VEEM-GUEST-METADATA instance-id=<id> via=<v2|v1>"), its SSH key ("VEEM-GUEST-KEY <key line>", into
# /root/.ssh/authorized_keys) and its user data, which it runs when it is a script ("VEEM-GUEST-USERDATA ran").
# `veem-probe NAME VALUE…` posts KPIs to the metadata service, as a probe in a service would.
set -euo pipefail
images=${1:-/var/lib/veem/images}
out="$images/tiny"
version=11
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
mkdir -p "$root"/{bin,dev,proc,sys,lib/modules,www,tmp,run,root}
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
  udhcpc -i eth0 -f -q -n -t 20 -T 1 -O staticroutes -s /bin/veem-dhcp >/dev/null 2>&1
  address=$(ip -4 -o addr show dev eth0 | awk '{print $4}' | head -n 1)
  echo "VEEM-GUEST-NET eth0 ${address:-none} $(cat /sys/class/net/eth0/address)"
fi
echo "veem tiny guest $(hostname) ${address}" > /www/index.html
# For transfers in tests: 3,000,000 bytes to fetch, and a sink to post to.
dd if=/dev/zero of=/www/blob bs=1000 count=3000 2>/dev/null
httpd -p 80 -h /www
echo "VEEM-GUEST-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
# Metadata only where DHCP gave a route to it.
if ip route show | grep -q '^169.254.169.254'; then /bin/veem-metadata & fi
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
    # Classless static routes (option 121): "destination/prefix gateway" pairs; the metadata service's is one.
    set -- $staticroutes
    while [ $# -ge 2 ]; do ip route add "$1" via "$2" dev "$interface"; shift 2; done
    ;;
esac
exit 0
HOOK
chmod +x "$root/bin/veem-dhcp"
# The metadata service, spoken to with nc: busybox's static wget segfaulted in this guest when fetching from it.
# `veem-imds METHOD PATH [HEADER [BODY]]` prints the body of a 200 and fails on anything else.
cat > "$root/bin/veem-imds" <<'IMDS'
#!/bin/busybox sh
method=$1 path=$2 header="" body=$4
[ -n "$3" ] && header="$3"'\r\n'
# The writer stays a moment (a sleep in the background holds the pipe): nc that sees its input end may close
# before the answer comes. nc ends when the service closes the connection after answering.
response=$({ printf "%s %s HTTP/1.1\r\nHost: 169.254.169.254\r\n${header}Content-Length: %s\r\nConnection: close\r\n\r\n%s" \
  "$method" "$path" "${#body}" "$body"; sleep 5 & } | nc -w 5 169.254.169.254 80 2>/dev/null | tr -d '\r')
case "$(echo "$response" | head -n 1 | cut -d' ' -f2)" in 200|204) ;; *) exit 1 ;; esac
echo "$response" | sed '1,/^$/d'
IMDS
cat > "$root/bin/veem-imds-token" <<'TOKEN'
#!/bin/busybox sh
veem-imds PUT /latest/api/token "X-aws-ec2-metadata-token-ttl-seconds: 300"
TOKEN
cat > "$root/bin/veem-metadata" <<'METADATA'
#!/bin/busybox sh
token=""
for try in 1 2 3 4 5; do
  token=$(veem-imds-token)
  [ -n "$token" ] && break
  sleep 1
done
get() {
  if [ -n "$token" ]; then veem-imds GET "/latest/$1" "X-aws-ec2-metadata-token: $token" > "$2"
  else veem-imds GET "/latest/$1" > "$2"; fi
}
if get meta-data/instance-id /run/instance-id; then
  via=v1; [ -n "$token" ] && via=v2
  echo "VEEM-GUEST-METADATA instance-id=$(cat /run/instance-id) via=$via"
else
  echo "VEEM-GUEST-METADATA none (token: ${#token} bytes)"
  exit 0
fi
mkdir -p /root/.ssh
if get meta-data/public-keys/0/openssh-key /root/.ssh/authorized_keys; then
  echo "VEEM-GUEST-KEY $(head -n 1 /root/.ssh/authorized_keys)"
else
  rm -f /root/.ssh/authorized_keys
fi
if get user-data /run/user-data; then
  if [ "$(head -c 2 /run/user-data)" = "#!" ]; then
    chmod +x /run/user-data
    echo "VEEM-GUEST-USERDATA ran"
    /run/user-data
  else
    echo "VEEM-GUEST-USERDATA kept"
  fi
fi
METADATA
# A probe: `veem-probe NAME VALUE [NAME VALUE…]` posts the KPIs for this VEE.
cat > "$root/bin/veem-probe" <<'PROBE'
#!/bin/busybox sh
body=""
while [ $# -ge 2 ]; do body="$body$1 $2
"; shift 2; done
veem-imds POST /veem/v1/kpis "Content-Type: text/plain" "$body" > /dev/null
PROBE
chmod +x "$root/bin/veem-imds" "$root/bin/veem-imds-token" "$root/bin/veem-metadata" "$root/bin/veem-probe"
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
