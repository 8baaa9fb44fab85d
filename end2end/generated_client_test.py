"""The JSON API through a client generated from the served OpenAPI document (openapi-python-client).

Run by end2end/generated-client.sh, which generates the package `skw_client` from
/api/v1/openapi.json, puts it on PYTHONPATH and passes SKW_BASE_URL and SKW_API_KEY. Every call to
the API goes through the generated functions; the only hand-written HTTP is the receiver, a
http.server on 127.0.0.1 that the webhook points at.

Creates a webhook (createWebhook), publishes an event (publishEvent), waits until the delivery
has succeeded (listDeliveries), reads it (getDelivery) and checks it against what the receiver
got: one POST, its X-Webhook-Delivery-Id the delivery's id, its body the delivery's `body`.
Exits 1 with a message naming the first check that failed.
"""

import json
import os
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from skw_client import AuthenticatedClient
from skw_client.api.deliveries import get_delivery, list_deliveries
from skw_client.api.events import publish_event
from skw_client.api.webhooks import create_webhook
from skw_client.models import (
    CreateWebhook,
    DeliveryList,
    DeliveryWithAttempts,
    PublishEvent,
    PublishEventData,
    Published,
    Webhook,
)

TIMEOUT_S = float(os.environ.get("SKW_CLIENT_TIMEOUT_S", "20"))


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


def no_repeated_keys(pairs):
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    check(not repeated, f"getDelivery's answer repeats the keys {repeated}")
    return dict(pairs)


class Receiver(BaseHTTPRequestHandler):
    received = []  # (path, headers, body bytes), in arrival order
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Receiver.lock:
            Receiver.received.append((self.path, self.headers, body))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def run(base_url, api_key):
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    try:
        # trust_env=False: no proxy variable may take this loopback traffic elsewhere.
        client = AuthenticatedClient(
            base_url=base_url,
            token=api_key,
            timeout=httpx.Timeout(10.0),
            httpx_args={"trust_env": False},
        )
        with client:
            return exercise(client, target)
    finally:
        receiver.shutdown()
        receiver.server_close()


def exercise(client, target):
    created = create_webhook.sync_detailed(
        client=client,
        body=CreateWebhook(
            name="generated client", url=target, events=["booking.created"]
        ),
    )
    check(
        created.status_code == 201 and isinstance(created.parsed, Webhook),
        f"createWebhook answered {created.status_code}: {created.content!r}",
    )
    webhook = created.parsed
    check(webhook.url == target, f"createWebhook stored url {webhook.url!r}, sent {target!r}")
    print(f"createWebhook: webhook {webhook.id} -> {target}")

    data = {"id": 4242, "date": "2025-01-20", "time": "14:00", "note": "généré ✓"}
    published = publish_event.sync_detailed(
        client=client,
        body=PublishEvent(event="booking.created", data=PublishEventData.from_dict(data)),
    )
    check(
        published.status_code == 202 and isinstance(published.parsed, Published),
        f"publishEvent answered {published.status_code}: {published.content!r}",
    )
    event = published.parsed
    check(event.deliveries == 1, f"publishEvent made {event.deliveries} deliveries, expected 1")
    print(f"publishEvent: event {event.id}, 1 delivery")

    deadline = time.monotonic() + TIMEOUT_S
    while True:
        listed = list_deliveries.sync_detailed(webhook.id, client=client)
        check(
            listed.status_code == 200 and isinstance(listed.parsed, DeliveryList),
            f"listDeliveries answered {listed.status_code}: {listed.content!r}",
        )
        rows = listed.parsed.data
        check(len(rows) <= 1, f"listDeliveries shows {len(rows)} deliveries, expected 1")
        if rows and rows[0].status == "succeeded":
            break
        check(
            not rows or rows[0].status in ("pending", "scheduled"),
            f"delivery {rows[0].id if rows else '?'} is {rows[0].status if rows else '?'}: "
            f"{rows[0].last_error if rows else ''}",
        )
        check(
            time.monotonic() < deadline,
            f"no succeeded delivery within {TIMEOUT_S:g} s; last listed: "
            + (f"{rows[0].status}, last error {rows[0].last_error!r}" if rows else "none"),
        )
        time.sleep(0.2)
    listed_id = rows[0].id
    print(f"listDeliveries: delivery {listed_id} succeeded")

    got = get_delivery.sync_detailed(listed_id, client=client)
    check(
        got.status_code == 200 and isinstance(got.parsed, DeliveryWithAttempts),
        f"getDelivery answered {got.status_code} (parsed as {type(got.parsed).__name__}): "
        f"{got.content[:300]!r}",
    )
    delivery = got.parsed
    # Python keeps the last of repeated keys; the answer must not have any (it once carried
    # `attempts` twice, a count and then the list).
    json.loads(got.content, object_pairs_hook=no_repeated_keys)

    with Receiver.lock:
        received = list(Receiver.received)
    check(len(received) == 1, f"the receiver got {len(received)} POSTs, expected 1")
    path, headers, body = received[0]
    check(path == "/hook", f"the receiver was POSTed {path!r}, expected '/hook'")
    header_id = headers.get("X-Webhook-Delivery-Id")
    check(
        header_id == delivery.id,
        f"X-Webhook-Delivery-Id {header_id!r} != the delivery id getDelivery reports "
        f"{delivery.id!r}",
    )
    check(delivery.id == listed_id, f"getDelivery's id {delivery.id!r} != listed {listed_id!r}")
    check(delivery.status == "succeeded", f"getDelivery says status {delivery.status!r}")
    check(
        delivery.body.encode("utf-8") == body,
        f"getDelivery's body {delivery.body!r} != the bytes received {body!r}",
    )
    check(delivery.event_id == event.id, f"getDelivery's event_id {delivery.event_id!r} != {event.id!r}")
    check(delivery.webhook_id == webhook.id, f"getDelivery's webhook_id {delivery.webhook_id}")
    check(
        len(delivery.attempts) == 1 and delivery.attempts[0].response_status == 200,
        f"getDelivery's attempts: {[a.to_dict() for a in delivery.attempts]}",
    )
    sent = json.loads(body)
    check(
        sent.get("event") == "booking.created" and sent.get("data") == data,
        f"the receiver got {sent!r}",
    )
    print(
        f"getDelivery: status succeeded, X-Webhook-Delivery-Id {header_id} matches, "
        f"body ({len(body)} bytes) equals what the receiver got"
    )


def main():
    base_url = os.environ.get("SKW_BASE_URL")
    api_key = os.environ.get("SKW_API_KEY")
    if not base_url or not api_key:
        print("generated-client test: set SKW_BASE_URL and SKW_API_KEY", file=sys.stderr)
        return 2
    try:
        run(base_url, api_key)
    except Failed as e:
        print(f"generated-client test FAILED: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # an exception of the generated client or the receiver
        traceback.print_exc()
        print(f"generated-client test FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print("generated-client test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
