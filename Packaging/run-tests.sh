#!/usr/bin/env bash
# Runs veem's whole test suite on this host (as root): unit tests, integration tests on a real RabbitMQ and the
# libvirt test driver, and the system test that boots a real TCG guest on qemu:///system.
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
Packaging/build-tiny-guest.sh "$VEEM_IMAGE_DIR"
swift build --build-tests
swift test --skip-build "$@"
