"""Tries, with one broker user's credentials, everything an agent's user must not do, and what it must.

Usage: bus_intruder.py OWN_HOST OTHER_HOST OTHER_USER. VEEM_AMQP_URL holds the credentials (an agent's user).
Prints one JSON object: attempt -> "allowed" or "refused: <the broker's reply>". Each attempt has a channel of its
own, since a refusal closes the channel; the broker, not any veem code, is what is being tested.
"""
import json
import os
import sys

import pika

own, other, other_user = sys.argv[1:4]
connection = pika.BlockingConnection(pika.URLParameters(os.environ["VEEM_AMQP_URL"]))
outcomes = {}


def attempt(name, action):
    channel = connection.channel()
    channel.confirm_delivery()
    try:
        action(channel)
        outcomes[name] = "allowed"
    except (pika.exceptions.ChannelClosedByBroker, pika.exceptions.UnroutableError,
            pika.exceptions.NackError) as error:
        outcomes[name] = "refused: %s" % (error,)
    if channel.is_open:
        channel.close()


def publish(exchange, key, user_id=None):
    def action(channel):
        properties = pika.BasicProperties(content_type="application/json", user_id=user_id)
        channel.basic_publish(exchange=exchange, routing_key=key, body=b"{}", properties=properties)
    return action


# Another host's commands: neither consumed nor routed to a queue of one's own.
attempt("consume another host's queue",
        lambda c: c.basic_consume("veem.agent." + other, lambda *a: None))
attempt("bind own queue to another host's key",
        lambda c: c.queue_bind("veem.agent." + own, "veem.commands", routing_key=other))
attempt("declare another host's queue", lambda c: c.queue_declare("veem.agent." + other, durable=True))
attempt("declare a queue of one's own naming", lambda c: c.queue_declare("", exclusive=True))
attempt("bind to every report", lambda c: c.queue_bind("veem.agent." + own, "veem.events", routing_key="#"))
# Publishing as another host, or as anyone else, or where requests go.
attempt("publish another host's report", publish("veem.events", "host.%s.heartbeat" % other))
attempt("publish a site event", publish("veem.events", "site.host_down"))
attempt("publish a request", publish("veem.requests", "request"))
attempt("publish to the requests queue by name", publish("", "veem.coordinator.requests"))
attempt("publish a command", publish("veem.commands", other))
attempt("publish under another user's user-id", publish("veem.events", "host.%s.heartbeat" % own, other_user))
attempt("delete the reports queue", lambda c: c.queue_delete("veem.coordinator.reports"))
attempt("delete the events exchange", lambda c: c.exchange_delete("veem.events"))
# What an agent needs.
attempt("declare its own queue", lambda c: c.queue_declare("veem.agent." + own, durable=True))
attempt("consume its own queue", lambda c: c.basic_consume("veem.agent." + own, lambda *a: None))
attempt("check the events exchange", lambda c: c.exchange_declare("veem.events", passive=True))
connection.close()
print(json.dumps(outcomes, indent=1, sort_keys=True))
