#!/bin/sh
exec python3 /app/server.py --port 8080
