"""A VMI envelope (version 1) for a request, as the test clients send them."""
import datetime
import uuid


def request(message_type, sender, body):
    """Returns (request id, envelope dict)."""
    request_id = str(uuid.uuid4())
    sent_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return request_id, {"v": 1, "type": message_type, "id": request_id, "sentAt": sent_at, "sender": sender,
                        "body": body}
