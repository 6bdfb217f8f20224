#!/usr/bin/env bash
# Installs veem as a .deb will lay it out (as root): the executables in /usr/bin, the broker-user setup
# (Packaging/bus-users.sh) as /usr/sbin/veem-bus-users, the systemd units in
# /lib/systemd/system, default settings in /etc/veem (an existing settings file is never overwritten), the README in
# /usr/share/doc/veem. The units' ExecStart= paths, settings files and users are these.
#
# Usage: Packaging/install.sh [BIN_DIR]   BIN_DIR holds the built executables (default: the release build).
# DESTDIR=/some/root installs under a staging root instead of /.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-$(swift build -c release --show-bin-path)}
root=${DESTDIR:-}
executables=(veem-agent veem-coordinator veem-ec2 veemctl)
for executable in "${executables[@]}"; do
  [[ -x "$bin/$executable" ]] || { echo "install: $bin/$executable is missing: build it first" >&2; exit 1; }
done

install -d "$root/usr/bin" "$root/usr/sbin" "$root/lib/systemd/system" "$root/etc/veem" "$root/usr/share/doc/veem" \
  "$root/var/lib/veem"
for executable in "${executables[@]}"; do
  install -m 0755 "$bin/$executable" "$root/usr/bin/$executable"
done
install -m 0755 Packaging/bus-users.sh "$root/usr/sbin/veem-bus-users"
install -m 0644 systemd/*.service "$root/lib/systemd/system/"
install -m 0644 README.md "$root/usr/share/doc/veem/README.md"
# The agent and the coordinator run as root and their settings may hold the broker's password; veem-ec2 runs as a
# dynamic user and must be able to read its own.
for daemon in agent coordinator ec2; do
  target="$root/etc/veem/$daemon.conf"
  if [[ -e "$target" ]]; then
    echo "install: keeping $target"
  else
    mode=0640; [[ $daemon == ec2 ]] && mode=0644
    install -m "$mode" "Packaging/etc/$daemon.conf" "$target"
  fi
done
if [[ -z "$root" && -d /run/systemd/system ]]; then systemctl daemon-reload; fi
echo "installed veem into ${root:-/}"
