#!/usr/bin/env bash
# veem's main job on one machine (as root): sets the host up, builds veem, starts a coordinator and one agent,
# submits two VEEs, activates them and shows them ACTIVE as real TCG guests booted on qemu:///system.
# Logs and pids go to /run/veem-quickstart; run it again to restart everything.
set -euo pipefail
cd "$(dirname "$0")/.."
Packaging/setup-host.sh
export VEEM_IMAGE_DIR=/var/lib/veem/images
Packaging/build-tiny-guest.sh "$VEEM_IMAGE_DIR"
swift build -c release --product veem-coordinator
swift build -c release --product veem-agent
swift build -c release --product veemctl
swift build -c release --product veem-ec2
bin=$(swift build -c release --show-bin-path)

run=/run/veem-quickstart
mkdir -p "$run"
for pidfile in "$run"/*.pid; do
  [[ -e "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
done
export VEEM_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/veem
VEEM_EC2_IMAGES=${VEEM_EC2_IMAGES:-ami-0000000000000001a:tiny:tiny-guest} \
VEEM_DATABASE=/var/lib/veem/coordinator.sqlite nohup "$bin/veem-coordinator" --config /etc/veem/coordinator.conf \
  >"$run/coordinator.log" 2>&1 &
echo $! >"$run/coordinator.pid"
VEEM_HOST=$(hostname -s) VEEM_LIBVIRT_URI=qemu:///system VEEM_STATE_DIR=/var/lib/veem \
  nohup "$bin/veem-agent" --config /etc/veem/agent.conf >"$run/agent.log" 2>&1 &
echo $! >"$run/agent.pid"
nohup "$bin/veem-ec2" --config /etc/veem/ec2.conf >"$run/ec2.log" 2>&1 &
echo $! >"$run/ec2.pid"
echo "waiting for the agent to register (the first start probes whether KVM really boots, ~20 s)…"
for _ in $(seq 1 120); do
  grep -q "agent ready" "$run/agent.log" && break
  kill -0 "$(cat "$run/agent.pid")" 2>/dev/null || { cat "$run/agent.log"; exit 1; }
  sleep 0.5
done
grep -q "agent ready" "$run/agent.log" || { echo "agent did not start:"; cat "$run/agent.log"; exit 1; }

# A rerun replaces the example VEEs of the previous one.
for name in web1 db1; do "$bin/veemctl" update "$name" destroy --wait >/dev/null 2>&1 || true; done
"$bin/veemctl" submit examples/two-vees.json --activate --timeout 180
"$bin/veemctl" hosts
echo
virsh -c qemu:///system list
echo
echo "Booted (from each guest's serial console):"
grep -h "VEEM-GUEST-BOOTED" /var/lib/veem/consoles/*.log
echo
echo "veemctl is at $bin/veemctl (VEEM_AMQP_URL=$VEEM_AMQP_URL); logs in $run."
echo "The EC2 API listens on 127.0.0.1:8773: \`$bin/veemctl account create me --exports\` prints the keys for awscli"
echo "(aws --endpoint-url http://127.0.0.1:8773 --region site1 ec2 run-instances --image-id ami-0000000000000001a)."
