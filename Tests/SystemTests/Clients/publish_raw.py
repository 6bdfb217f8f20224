"""Publishes one raw body to veem's request exchange with no reply_to, as a careless or hostile client would.

Usage: publish_raw.py BODY. VEEM_AMQP_URL names the broker. Exits 0 once the broker confirmed the message.
"""
import os
import sys
import uuid

import pika

connection = pika.BlockingConnection(pika.URLParameters(os.environ["VEEM_AMQP_URL"]))
channel = connection.channel()
channel.confirm_delivery()
channel.basic_publish(exchange="veem.requests", routing_key="request", body=sys.argv[1].encode(),
                      properties=pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                                      message_id=str(uuid.uuid4())),
                      mandatory=True)
connection.close()
