#!/bin/sh
# Test program for stateful services: counts its starts in $BERTH_DATA_DIR/starts, then sleeps.
n=$(cat "$BERTH_DATA_DIR/starts" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$BERTH_DATA_DIR/starts"
echo "slot $BERTH_SLOT start $n in $BERTH_DATA_DIR"
trap 'exit 0' TERM
while :; do sleep 1; done
