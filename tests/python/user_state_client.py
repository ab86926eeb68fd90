"""Drive the official Amplitude Python SDK through a plan of steps against a local source.

Usage: user_state_client.py SERVER_URL API_KEY PLAN_JSON

PLAN_JSON is a list of steps; a step is a list of actions, each one of

    {"track": {"event_type": T, "insert_id": I, "user_id": U, "device_id": D,
               "event_properties": {...}}}
    {"identify": {"insert_id": I, "user_id": U, "device_id": D,
                  "set": {...}, "set_once": {...}, "add": {...}}}
    {"set_group": {"insert_id": I, "user_id": U, "device_id": D,
                   "group_type": G, "group_name": N}}

(`user_id`, `device_id` and the operation tables are optional). The actions of a step go out
together with one `flush()`; the next step starts only once the SDK reported a final status for
every insert id of this one, so the steps reach the source in order (the SDK itself sends
batches on a thread pool, in no particular order). Retries the SDK makes on its own (after a
503, a timeout) happen inside a step.

Prints one JSON object: the status codes the SDK reported per insert id. Exits 1 when a step
got no final status within 30 seconds. Used by tests/e2e_user_state.rs and tests/e2e_dedupe.rs.
"""

import json
import sys
import threading
import time

from amplitude import Amplitude, BaseEvent, Config, EventOptions, Identify

STEP_TIMEOUT_SECONDS = 30


def options(action):
    return {key: action[key] for key in ("user_id", "device_id", "insert_id") if key in action}


def send(client, action):
    """Hands one action to the SDK; returns its insert id."""
    (kind, fields), = action.items()
    if kind == "track":
        client.track(
            BaseEvent(
                fields["event_type"],
                event_properties=fields.get("event_properties"),
                **options(fields),
            )
        )
    elif kind == "identify":
        identify = Identify()
        for key, value in fields.get("set", {}).items():
            identify.set(key, value)
        for key, value in fields.get("set_once", {}).items():
            identify.set_once(key, value)
        for key, value in fields.get("add", {}).items():
            identify.add(key, value)
        client.identify(identify, EventOptions(**options(fields)))
    elif kind == "set_group":
        client.set_group(
            fields["group_type"], fields["group_name"], EventOptions(**options(fields))
        )
    else:
        raise ValueError(f"unknown action {kind!r}")
    return fields["insert_id"]


def main() -> int:
    server_url, api_key, plan = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    results = {}
    settled = threading.Condition()

    def callback(event, code, message=None):
        with settled:
            results.setdefault(event.insert_id, []).append(code)
            settled.notify_all()

    client = Amplitude(
        api_key,
        Config(
            server_url=server_url,
            use_batch=False,
            flush_queue_size=100,
            flush_interval_millis=100,
            callback=callback,
        ),
    )
    for number, step in enumerate(plan):
        ids = [send(client, action) for action in step]
        client.flush()
        deadline = time.monotonic() + STEP_TIMEOUT_SECONDS
        with settled:
            while not all(i in results for i in ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [i for i in ids if i not in results]
                    print(json.dumps(results, sort_keys=True))
                    print(f"step {number}: no final status for {missing}", file=sys.stderr)
                    client.shutdown()
                    return 1
                settled.wait(left)
    client.shutdown()
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
