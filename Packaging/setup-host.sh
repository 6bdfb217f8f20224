#!/usr/bin/env bash
# Prepares a Debian 12 host for veem (as root): installs what is missing, starts RabbitMQ and libvirtd if they are
# not running, and creates the broker vhost `veem`. Idempotent. Works with systemd as PID 1 or without it
# (containers, CI).
set -euo pipefail
[[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 1; }

packages=(rabbitmq-server librabbitmq-dev libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
          qemu-system-x86 qemu-utils libsqlite3-dev iproute2 iputils-ping nftables curl dnsmasq-base bridge-utils amqp-tools cpio gzip
          python3-pip openssh-client wrk systemd)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# The tiny guest is unpacked from these; apt needs fresh lists to download them.
apt-get update -qq
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "swift is not on PATH (Swift 6 toolchain needed)" >&2; exit 1; }

systemd_running() { [[ -d /run/systemd/system ]]; }

# RabbitMQ
if ! rabbitmqctl -q status >/dev/null 2>&1; then
  if systemd_running; then systemctl enable --now rabbitmq-server; else rabbitmq-server -detached; fi
fi
# A freshly started node needs a moment before its CLI can reach it at all.
for _ in $(seq 1 120); do rabbitmqctl -q await_startup --timeout 60 >/dev/null 2>&1 && break; sleep 0.5; done
rabbitmqctl -q await_startup --timeout 60
rabbitmqctl -q list_vhosts | grep -qx veem || rabbitmqctl -q add_vhost veem
rabbitmqctl -q set_permissions -p veem guest '.*' '.*' '.*'
# Requests moved to a quorum queue (delivery limit, dead-lettering): an empty classic one from an older veem goes.
if rabbitmqctl -q list_queues -p veem name type messages 2>/dev/null | grep -qP '^veem\.coordinator\.requests\tclassic\t0$'; then
  rabbitmqctl -q delete_queue -p veem veem.coordinator.requests >/dev/null
fi

# libvirtd with the QEMU driver
if ! virsh -q -c qemu:///system version >/dev/null 2>&1; then
  if systemd_running; then
    systemctl enable --now libvirtd
  else
    mkdir -p /var/log/libvirt /var/lib/veem
    getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
    getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -s /usr/sbin/nologin libvirt-qemu
    if [[ ! -s /etc/libvirt/qemu.conf ]]; then
      # Without systemd (a container): no virtlogd, no cgroup delegation, no security driver to rely on.
      cat > /etc/libvirt/qemu.conf <<'CONF'
stdio_handler = "file"
security_driver = "none"
cgroup_controllers = [ ]
user = "root"
group = "root"
CONF
    fi
    pgrep -x virtlogd >/dev/null || virtlogd -d
    libvirtd -d
  fi
  for _ in $(seq 1 60); do virsh -q -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.5; done
fi
virsh -q -c qemu:///system version >/dev/null
echo "host ready: RabbitMQ (vhost veem) and libvirtd (qemu:///system) are running"
