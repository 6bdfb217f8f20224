"""Sends one VEEUpdate as sender SENDER with a reply queue, and prints the reply (the JSON envelope).

Usage: poison_request.py SENDER. VEEM_AMQP_URL names the broker. Exits 0 on a reply, 2 if none came within 60 s.
"""
import os
import sys
import json

import pika

import vmi_envelope

connection = pika.BlockingConnection(pika.URLParameters(os.environ["VEEM_AMQP_URL"]))
channel = connection.channel()
reply_queue = channel.queue_declare(queue="", exclusive=True, auto_delete=True).method.queue
request_id, envelope = vmi_envelope.request("VEEUpdate", sys.argv[1], {"vee": "nobody", "action": "ACTIVATE"})
channel.confirm_delivery()
channel.basic_publish(exchange="veem.requests", routing_key="request", body=json.dumps(envelope).encode(),
                      properties=pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                                      message_id=request_id, reply_to=reply_queue,
                                                      type="VEEUpdate"),
                      mandatory=True)
for method, properties, body in channel.consume(reply_queue, auto_ack=True, inactivity_timeout=60):
    if method is None:
        print("no reply within 60 s", file=sys.stderr)
        sys.exit(2)
    if properties.correlation_id == request_id:
        print(body.decode())
        sys.exit(0)
