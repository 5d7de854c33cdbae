#!/bin/sh
# Writes this pod's sentinel.conf (a sentinel rewrites its own config, so it lives on an emptyDir) and starts
# the sentinel, watching the primary the other sentinels name, or redis-0 on the very first start.
# Pods are named by DNS (announce-hostnames), since their IP addresses change when they restart.
set -eu
SELF=$(hostname -f)
PRIMARY=$(timeout 5 redis-cli -h redis-sentinel -p 26379 sentinel get-master-addr-by-name mymaster 2>/dev/null | head -n 1 || true)
[ -n "$PRIMARY" ] || PRIMARY="redis-0.${SELF#*.}"
cat > /sentinel/sentinel.conf <<CONF
port 26379
requirepass $REDIS_PASSWORD
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $SELF
sentinel monitor mymaster $PRIMARY 6379 2
sentinel auth-pass mymaster $REDIS_PASSWORD
sentinel sentinel-pass $REDIS_PASSWORD
sentinel down-after-milliseconds mymaster 5000
sentinel failover-timeout mymaster 60000
sentinel parallel-syncs mymaster 1
CONF
exec redis-server /sentinel/sentinel.conf --sentinel
