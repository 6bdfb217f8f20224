#!/usr/bin/env bash
# veem's main job on one machine (as root): sets the host up, builds and installs veem, starts the coordinator, an
# agent and the EC2 gateway as their systemd units run them, deploys a two-tier service (examples/shop.yaml) as real
# TCG guests on qemu:///system, pushes a KPI and shows the scale-up with the decision's reason, then makes an EC2
# account and runs the EC2 commands it prints. Fails loudly if any daemon does not come up.
# Logs and pids go to /run/veem-quickstart (without systemd); run it again to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
Packaging/setup-host.sh
if ! command -v aws >/dev/null; then
  python3 -m pip install -q awscli 2>/dev/null || python3 -m pip install -q --break-system-packages awscli
fi
Packaging/build-tiny-guest.sh /var/lib/veem/images
for product in veem-coordinator veem-agent veem-ec2 veemctl; do swift build -c release --product "$product"; done
Packaging/install.sh "$(swift build -c release --show-bin-path)"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "broker users with least rights (Packaging/bus-users.sh)"
# One broker user per daemon and per agent host, each allowed only what it does; the units read them from
# /etc/veem/<daemon>.env, veemctl from operator.env. The agent's host id is the host name's first label.
Packaging/bus-users.sh --veemctl /usr/bin/veemctl site
agent_host=$(hostname -s)
Packaging/bus-users.sh --veemctl /usr/bin/veemctl agent "$agent_host"
install -m 0600 "/etc/veem/agent-$agent_host.env" /etc/veem/agent.env
set -a; . /etc/veem/operator.env; set +a
units=(veem-coordinator veem-agent veem-ec2)

step "starting ${units[*]}"
run=/run/veem-quickstart
mkdir -p "$run"
if [[ -d /run/systemd/system ]]; then
  # Type=notify: systemctl returns once each daemon said READY=1, and fails if it did not.
  systemctl restart "${units[@]}"
else
  for unit in "${units[@]}"; do
    if [[ -e "$run/$unit.pid" ]] && kill "$(cat "$run/$unit.pid")" 2>/dev/null; then
      while kill -0 "$(cat "$run/$unit.pid")" 2>/dev/null; do sleep 0.2; done
    fi
  done
  for unit in "${units[@]}"; do
    Packaging/start-daemon.py "/lib/systemd/system/$unit.service" "$run/$unit.log" "$run/$unit.pid" 180
  done
fi
# The gateway answers a signed call only through the coordinator: a real round trip through every daemon.
eval "$(veemctl account create quickstart-$(date +%s) --exports)"
export AWS_DEFAULT_REGION=site1 AWS_EC2_METADATA_DISABLED=true
aws="aws --endpoint-url http://127.0.0.1:8773 ec2"
$aws describe-instances >/dev/null || { echo "veem-ec2 does not answer a signed DescribeInstances" >&2; exit 1; }
for _ in $(seq 1 60); do veemctl hosts | grep -q " UP " && break; sleep 0.5; done
veemctl hosts | grep -q " UP " || { echo "no host came UP:" >&2; veemctl hosts >&2; exit 1; }
veemctl hosts

step "deploying examples/shop.yaml (C3 first, then C1, which depends on it)"
# A rerun starts from nothing: the previous run's service and EC2 instances go first.
veemctl service undeploy shop --wait >/dev/null 2>&1 || true
veemctl vees | awk 'NR > 1 && ($1 ~ /^i-/ || $1 == "web1" || $1 == "db1") {print $1}' | while read -r vee; do
  veemctl update "$vee" destroy --wait >/dev/null 2>&1 || true
done
veemctl service submit examples/shop.yaml --timeout 300
veemctl service show shop
echo
virsh -c qemu:///system list
echo "Booted (from each guest's serial console):"
grep -h "VEEM-GUEST-BOOTED" /var/lib/veem/consoles/*.log

step "a probe reports 1200 requests/s for C1: Replicas(C1) = RequestPerSecond(C1) / 500"
veemctl watch >"$run/events.log" 2>&1 &
watcher=$!
trap 'kill $watcher 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "watching" "$run/events.log" && break; sleep 0.1; done
veemctl put-kpi shop/C1 RequestPerSecond=1200
scaled() { veemctl service list | grep "^shop " | grep -q "C1 3/3" && veemctl service list | grep -q "C3 2/2"; }
for _ in $(seq 1 240); do scaled && break; sleep 0.5; done
echo "The decisions, with their reasons:"
grep "SERVICE_SCALED" "$run/events.log" || { echo "no scaling decision was announced" >&2; exit 1; }
veemctl service show shop
scaled || { echo "shop did not reach C1 3/3 and C3 2/2" >&2; exit 1; }

step "EC2: the same site through awscli"
echo "export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=site1"
echo "$aws describe-images"
$aws describe-images --query 'Images[].[ImageId,Name]' --output text
echo "$aws describe-instance-types"
$aws describe-instance-types --query 'InstanceTypes[].[InstanceType,VCpuInfo.DefaultVCpus,MemoryInfo.SizeInMiB]' \
  --output text
echo
echo "veemctl is /usr/bin/veemctl; its broker user is in /etc/veem/operator.env (set -a; . /etc/veem/operator.env)."
echo "Settings in /etc/veem; logs in $run."
echo "Next (docs in README.md):"
echo "  veemctl put-kpi shop/C1 RequestPerSecond=300    # and watch it scale back after the cooldown"
echo "  veemctl service undeploy shop --wait             # frees the host for EC2 instances:"
echo "  $aws run-instances --image-id ami-0000000000000001a --instance-type t2.nano"
