#!/usr/bin/env bash
# Least privilege on the bus (as root, on the broker's host): a RabbitMQ user per role and per agent, each with only
# the rights it needs (veemctl bus definitions), and the site's exchanges and queues declared before anything runs.
#
#   Packaging/bus-users.sh [options] site          the coordinator's, the EC2 gateway's and the operators' users
#   Packaging/bus-users.sh [options] agent HOST…   one user per agent host
#
# Each user's settings go to DIR/<name>.env (mode 0600) as VEEM_AMQP_URL=… — coordinator.env, ec2.env and
# operator.env for the site, agent-HOST.env per agent (install it on HOST as /etc/veem/agent.env). The units read
# /etc/veem/<daemon>.env; an operator runs `set -a; . DIR/operator.env` before veemctl. A user that exists keeps
# the password its file holds. Idempotent.
#
# Options: --vhost VHOST (veem), --prefix PREFIX of user names (veem), --broker HOST:PORT the daemons connect to
# (127.0.0.1:5672), --dir DIR (/etc/veem), --veemctl PATH (veemctl on PATH), --node NODE (rabbitmqctl's -n).
set -euo pipefail
vhost=veem prefix=veem broker=127.0.0.1:5672 dir=/etc/veem veemctl=veemctl node=()
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --vhost) vhost=$2 ;;
    --prefix) prefix=$2 ;;
    --broker) broker=$2 ;;
    --dir) dir=$2 ;;
    --veemctl) veemctl=$2 ;;
    --node) node=(-n "$2") ;;
    *) echo "bus-users: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
usage() { echo "usage: bus-users.sh [options] site | agent HOST..." >&2; exit 2; }
[[ $# -ge 1 ]] || usage
ctl() { rabbitmqctl -q "${node[@]}" "$@"; }

# role=user pairs for `veemctl bus definitions`, and the file each user's URL goes to.
specs=() files=()
case $1 in
  site)
    [[ $# -eq 1 ]] || usage
    specs=("coordinator=$prefix-coordinator" "gateway=$prefix-ec2" "operator=$prefix-operator")
    files=(coordinator ec2 operator) ;;
  agent)
    shift
    [[ $# -ge 1 ]] || usage
    for host in "$@"; do
      specs+=("agent:$host=$prefix-agent-$host")
      files+=("agent-$host")
    done ;;
  *) usage ;;
esac

install -d -m 0755 "$dir"
ctl list_vhosts | grep -qxF "$vhost" || ctl add_vhost "$vhost" >/dev/null
existing=$(ctl list_users --no-table-headers | cut -f1)
for index in "${!specs[@]}"; do
  user=${specs[$index]#*=} file="$dir/${files[$index]}.env"
  password=
  if [[ -f $file ]]; then
    password=$(sed -n "s|^VEEM_AMQP_URL=amqp://$user:\([^@]*\)@.*|\1|p" "$file")
  fi
  # URL-safe, so that it needs no escaping in the URL.
  [[ -n $password ]] || password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
  if grep -qxF "$user" <<<"$existing"; then
    printf '%s' "$password" | ctl change_password "$user" >/dev/null
  else
    printf '%s' "$password" | ctl add_user "$user" >/dev/null
  fi
  umask 077
  {
    echo "VEEM_AMQP_URL=amqp://$user:$password@$broker/$vhost"
    # The coordinator authorises requests by the broker user that sent them.
    if [[ ${files[$index]} == coordinator ]]; then
      echo "VEEM_OPERATOR_USERS=$prefix-operator"
      echo "VEEM_GATEWAY_USERS=$prefix-ec2"
    fi
  } >"$file.tmp"
  mv "$file.tmp" "$file"
  echo "bus-users: $user (${specs[$index]%%=*}) -> $file"
done

args=()
for spec in "${specs[@]}"; do args+=(--user "$spec"); done
"$veemctl" bus definitions --vhost "$vhost" "${args[@]}" | ctl import_definitions >/dev/null
# The import is asynchronous: done once the last exchange and every permission are there.
for _ in $(seq 1 100); do
  ready=1
  ctl list_exchanges -p "$vhost" name | grep -qxF veem.dead || ready=0
  for spec in "${specs[@]}"; do
    ctl list_user_permissions "${spec#*=}" 2>/dev/null | grep -q "^$vhost[[:space:]]" || ready=0
  done
  [[ $ready == 1 ]] && break
  sleep 0.1
done
[[ $ready == 1 ]] || { echo "bus-users: the broker did not take the definitions" >&2; exit 1; }
