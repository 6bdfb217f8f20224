"""Submits a service manifest straight to veem's request queue with a plain AMQP client (pika), as any program could.

Usage: submit_manifest.py MANIFEST. VEEM_AMQP_URL names the broker. Publishes a SubmitService envelope to exchange
`veem.requests` (routing key `request`) with a reply queue of its own, prints the coordinator's reply (the JSON
envelope) and exits 0 if it is not an ErrorReply, 1 if it is, 2 if no reply came within 60 s.
"""
import json
import os
import sys

import pika

import vmi_envelope

url = os.environ["VEEM_AMQP_URL"]
manifest = open(sys.argv[1], encoding="utf-8").read()
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
reply_queue = channel.queue_declare(queue="", exclusive=True, auto_delete=True).method.queue
request_id, envelope = vmi_envelope.request("SubmitService", "pika@system-test", {"manifest": manifest})
channel.confirm_delivery()
channel.basic_publish(exchange="veem.requests", routing_key="request", body=json.dumps(envelope).encode(),
                      properties=pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                                      message_id=request_id, correlation_id=request_id,
                                                      reply_to=reply_queue, type="SubmitService"),
                      mandatory=True)
for method, properties, body in channel.consume(reply_queue, auto_ack=True, inactivity_timeout=60):
    if method is None:
        print("no reply within 60 s", file=sys.stderr)
        sys.exit(2)
    if properties.correlation_id != request_id:
        continue
    reply = json.loads(body)
    print(json.dumps(reply, indent=1))
    sys.exit(1 if reply["type"] == "ErrorReply" else 0)
