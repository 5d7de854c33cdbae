#!/bin/sh
# Starts this pod's Redis with the arguments of redis.yaml ("$@"), as the primary or as a replica of it. The
# primary is the one the sentinels name; when none answers (the very first start), it is redis-0.
# redis-cli authenticates with REDISCLI_AUTH, which the sentinels share with Redis.
set -eu
SELF=$(hostname -f)
PRIMARY=$(timeout 5 redis-cli -h redis-sentinel -p 26379 sentinel get-master-addr-by-name mymaster 2>/dev/null | head -n 1 || true)
[ -n "$PRIMARY" ] || PRIMARY="redis-0.${SELF#*.}"
set -- "$@" --masterauth "$REDIS_PASSWORD" --replica-announce-ip "$SELF"
[ "$PRIMARY" = "$SELF" ] || set -- "$@" --replicaof "$PRIMARY" 6379
exec redis-server "$@"
