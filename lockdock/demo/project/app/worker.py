"""lockdock demo worker: prints a heartbeat."""

import time

while True:
    print("worker alive", flush=True)
    time.sleep(30)
