"""Drive the official Amplitude Python SDK against a local `amplitude_http` source.

Usage: amplitude_sdk_client.py SERVER_URL API_KEY EVENTS

Tracks EVENTS events (user ids user-00000.., insert ids sdk-0..), then one identify
(`$set plan=pro` for user-00000), flushes and shuts down. Prints one JSON line: the status codes
the SDK reported per insert id, so the caller can check every event was accepted exactly once.
"""

import json
import sys
import threading

from amplitude import Amplitude, BaseEvent, Config, EventOptions, Identify


def main() -> int:
    server_url, api_key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    results = {}
    lock = threading.Lock()

    def callback(event, code, message=None):
        with lock:
            results.setdefault(event.insert_id or event.event_type, []).append(code)

    client = Amplitude(
        api_key,
        Config(
            server_url=server_url,
            use_batch=False,
            flush_queue_size=7,
            flush_interval_millis=200,
            callback=callback,
        ),
    )
    for i in range(count):
        client.track(
            BaseEvent(
                "Purchase" if i % 2 == 0 else "click event",
                user_id=f"user-{i:05d}",
                device_id=f"device-{i:05d}",
                insert_id=f"sdk-{i}",
                event_properties={"index": i, "price": i * 1.5},
                app_version="3.2.1",
                carrier="Acme Mobile",
            )
        )
    identify = Identify().set("plan", "pro")
    client.identify(identify, EventOptions(user_id="user-00000", insert_id="sdk-identify"))
    client.flush()
    client.shutdown()
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
