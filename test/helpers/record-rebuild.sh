#!/bin/sh
# A stand-in rebuild command for tests: records "start ACCOUNT" and "end ACCOUNT" in the file named by
# its second argument, waiting $3 seconds (default 0) in between, and exits with $4 (default 0).
echo "start $1" >> "$2"
sleep "${3:-0}"
echo "end $1" >> "$2"
exit "${4:-0}"
