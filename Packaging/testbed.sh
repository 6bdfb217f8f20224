#!/usr/bin/env bash
# A testbed of simulated compute hosts on one machine (as root), for multi-host tests and demos.
#
#   Packaging/testbed.sh up DIR HOSTS    builds hosts h1…hHOSTS under DIR (DIR's name tags every namespace)
#   Packaging/testbed.sh down DIR        removes everything `up` made, even half-made; idempotent
#   Packaging/testbed.sh exec DIR NODE CMD…   runs CMD in host NODE (h1…) or in the control node (ctl)
#   Packaging/testbed.sh spawn DIR NODE LOG CMD…   starts CMD there in the background, its output to LOG
#
# Each host is a network namespace, a persisted mount namespace and a UTS namespace (hostname hN) with its own
# libvirtd: /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt are DIR/hN/…
# bound in (the machine's capability cache copied, so it starts in well under a second), its own host_uuid. Its
# socket is DIR/hN/run/libvirt-sock. Hosts are joined to a control namespace (ctl) by veth links on two bridges:
# the management network 10.77.0.0/24 (ctl is .1, hN is .(10+N), on mgmt0) and the underlay for VXLAN
# 10.78.0.0/24 (hN is .(10+N), on under0; ctl has no address there). Every address lives in namespaces this
# script made: nothing is sent from the root namespace.
set -Eeuo pipefail
cmd=${1:-} dir=${2:-}
[[ -n $cmd && -n $dir ]] || {
  echo "usage: testbed.sh up DIR HOSTS | down DIR | exec DIR NODE CMD... | spawn DIR NODE LOG CMD..." >&2; exit 2; }
dir=$(realpath -m "$dir")
# Namespace names from DIR's name: several testbeds can exist at once.
tag=$(basename "$dir" | tr -cd 'a-zA-Z0-9' | tail -c 10)
ctl="vtb-$tag-ctl"
host_ns() { echo "vtb-$tag-$1"; }

enter() {  # enter NODE CMD…: in the node's network, mount and UTS namespaces
  local node=$1; shift
  if [[ $node == ctl ]]; then
    ip netns exec "$ctl" "$@"
  else
    nsenter --net="/run/netns/$(host_ns "$node")" --mount="$dir/ns/$node.mnt" --uts="$dir/ns/$node.uts" -- "$@"
  fi
}

# detached LOG CMD…: CMD in a session of its own, output to LOG, inheriting no descriptor beyond 0–2. A daemon
# holding a descriptor of our caller's (Foundation's Process watches its child through one) keeps the caller
# waiting for our exit forever.
detached() {
  local log=$1; shift
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [[ $fd -gt 2 ]]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid -f "$@" </dev/null >"$log" 2>&1
  )
}

down() {
  [[ -d $dir ]] || return 0
  for pidfile in "$dir"/h*/libvirtd.pid; do
    [[ -f $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^vtb-$tag-" || true); do
    # Whatever still runs in it (guests' qemu, agents, dnsmasq) goes with it.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [[ -z $pids ]] && break
      # shellcheck disable=SC2086
      kill $pids 2>/dev/null || true
      sleep 0.2
    done
    # shellcheck disable=SC2086
    [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] || kill -9 $(ip netns pids "$ns") 2>/dev/null || true
    ip netns delete "$ns" 2>/dev/null || true
  done
  # The persisted namespaces, then the private mount holding them.
  for file in "$dir"/ns/*.mnt "$dir"/ns/*.uts; do
    [[ -e $file ]] && umount "$file" 2>/dev/null || true
  done
  mountpoint -q "$dir/ns" && umount "$dir/ns"
  rm -rf "$dir"
}

up() {
  local hosts=$1
  [[ $hosts =~ ^[1-9][0-9]?$ ]] || { echo "testbed: HOSTS must be 1 to 99, got '$hosts'" >&2; exit 2; }
  [[ ! -e $dir ]] || { echo "testbed: $dir exists: down it first" >&2; exit 1; }
  trap 'echo "testbed: up failed; removing what was made" >&2; down' ERR
  mkdir -p "$dir/ns"
  # Persisted namespaces must sit on a private mount.
  mount --bind "$dir/ns" "$dir/ns"
  mount --make-private "$dir/ns"

  ip netns add "$ctl"
  ip -n "$ctl" link set lo up
  ip -n "$ctl" link add mgmt type bridge
  ip -n "$ctl" link add under type bridge
  ip -n "$ctl" addr add 10.77.0.1/24 dev mgmt
  ip -n "$ctl" link set mgmt up
  ip -n "$ctl" link set under up

  for n in $(seq 1 "$hosts"); do
    local node="h$n" ns
    ns=$(host_ns "$node")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add mgmt0 netns "$ns" type veth peer name "m$n" netns "$ctl"
    ip link add under0 netns "$ns" type veth peer name "u$n" netns "$ctl"
    ip -n "$ctl" link set "m$n" master mgmt up
    ip -n "$ctl" link set "u$n" master under up
    ip -n "$ns" addr add "10.77.0.$((10 + n))/24" dev mgmt0
    ip -n "$ns" addr add "10.78.0.$((10 + n))/24" dev under0
    ip -n "$ns" link set mgmt0 up
    ip -n "$ns" link set under0 up

    local root="$dir/$node"
    mkdir -p "$root"/{etc,run,lib,log,cache}
    cp -a /var/cache/libvirt/qemu "$root/cache/" 2>/dev/null || true
    cat >"$root/etc/libvirtd.conf" <<EOF
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
EOF
    # No virtlogd, cgroups or security driver to rely on in a namespace; the serial logs go where told.
    cat >"$root/etc/qemu.conf" <<EOF
stdio_handler = "file"
security_driver = "none"
cgroup_controllers = [ ]
user = "root"
group = "root"
migration_address = "10.77.0.$((10 + n))"
migration_host = "10.77.0.$((10 + n))"
EOF
    touch "$dir/ns/$node.mnt" "$dir/ns/$node.uts"
    # Not `ip netns exec`, whose mount namespace ends with the command (and the persisted copy's bind with it): the
    # new mount namespace gets the host's own /sys, its libvirt directories and its hostname.
    nsenter --net="/run/netns/$ns" unshare --mount="$dir/ns/$node.mnt" --uts="$dir/ns/$node.uts" \
      --propagation private /bin/sh -ec "hostname $node
        mount -t sysfs sysfs /sys
        mount --bind '$root/etc' /etc/libvirt
        mount --bind '$root/run' /run/libvirt
        mount --bind '$root/lib' /var/lib/libvirt
        mount --bind '$root/log' /var/log/libvirt
        mount --bind '$root/cache' /var/cache/libvirt
        mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu"
    detached "$root/libvirtd.out" nsenter --net="/run/netns/$ns" --mount="$dir/ns/$node.mnt" \
      --uts="$dir/ns/$node.uts" -- /usr/sbin/libvirtd -f /etc/libvirt/libvirtd.conf -p "$root/libvirtd.pid"
  done
  for n in $(seq 1 "$hosts"); do
    for _ in $(seq 1 100); do [[ -S $dir/h$n/run/libvirt-sock ]] && break; sleep 0.05; done
    [[ -S $dir/h$n/run/libvirt-sock ]] || { echo "testbed: libvirtd of h$n did not start" >&2; false; }
  done
  trap - ERR
  echo "testbed $tag: $hosts hosts up in $dir (control namespace $ctl, management 10.77.0.0/24)"
}

case $cmd in
  up) up "${3:-}" ;;
  down) down ;;
  exec) shift 2; enter "$@" ;;
  spawn) shift 2; node=$1 log=$2; shift 2; detached "$log" "$0" exec "$dir" "$node" "$@" ;;
  *) echo "testbed: unknown command $cmd" >&2; exit 2 ;;
esac
