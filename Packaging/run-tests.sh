#!/usr/bin/env bash
# Runs veem's whole test suite on this host (as root): unit tests, integration tests on a real RabbitMQ and the
# libvirt test driver, and the system test that boots a real TCG guest on qemu:///system. With --asan, the same
# suite built under AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
Packaging/setup-host.sh
# The EC2 gateway's tests drive it with the real clients, and the system tests the queue with a plain AMQP client
# (pika), all from PyPI.
if ! python3 -c 'import boto3, pika' 2>/dev/null || ! command -v aws >/dev/null; then
  python3 -m pip install -q awscli boto3 pika 2>/dev/null \
    || python3 -m pip install -q --break-system-packages awscli boto3 pika
fi
export VEEM_IMAGE_DIR=${VEEM_IMAGE_DIR:-/var/lib/veem/images}
# The whole suite; NetworkTests, which measures a SPEED limit on real guests' transfers, on its own afterwards: beside
# the rest, two cores starve TCG guests and TCP under a policer well below any limit.
run_suite() {
  if [[ " $* " == *" --filter "* || " $* " == *" --skip "* ]]; then
    swift test --skip-build "$@"
  else
    swift test --skip-build "$@" --skip NetworkTests && swift test --skip-build "$@" --filter NetworkTests
  fi
}
Packaging/build-tiny-guest.sh "$VEEM_IMAGE_DIR"
if [[ ${1:-} == --asan ]]; then
  # The whole suite again with every executable and the tests built under AddressSanitizer. Each process (daemons,
  # veemctl, the test runner) writes any report to a file of its own; a single report fails the run. Leak checks are
  # off: what Swift's runtime and libvirt keep until exit is not a bug.
  shift
  reports=$(mktemp -d /tmp/veem-asan.XXXXXX)
  export ASAN_OPTIONS="detect_leaks=0:log_path=$reports/report"
  export VEEM_BIN_DIR=$PWD/.build/asan/debug
  swift build --build-tests --sanitize=address --build-path .build/asan
  status=0
  run_suite --sanitize=address --build-path .build/asan "$@" || status=$?
  if compgen -G "$reports/report*" >/dev/null; then
    echo "AddressSanitizer reports:" >&2
    cat "$reports"/report* >&2
    exit 1
  fi
  echo "AddressSanitizer: no report from any process"
  exit $status
fi
swift build --build-tests
run_suite "$@"
