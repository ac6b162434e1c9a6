#!/usr/bin/env bash
# Start or stop a private ClickHouse cluster on loopback: one ZooKeeper (Debian's zookeeper package, run as a
# plain process) and three clickhouse-server processes, each with its own directory and config.
#
#   bash .ci/cluster.sh start DIR BASE_PORT     # everything, if not already running
#   bash .ci/cluster.sh stop DIR                # everything started under DIR
#   bash .ci/cluster.sh start-server DIR N      # server N (1-3) again, after stop-server
#   bash .ci/cluster.sh stop-server DIR N       # server N only (SIGTERM, then SIGKILL)
#   bash .ci/cluster.sh kill-server DIR N       # server N only, SIGKILL at once
#
# Ports, from BASE_PORT: ZooKeeper BASE; server N native BASE+N, HTTP BASE+10+N, interserver BASE+20+N.
# Two clusters are declared over the three servers (the {shard} and {replica} macros are per server):
#   canary_shards    2 shards x 1 replica: server 1 (shard 01), server 2 (shard 02)
#   canary_replicas  1 shard x 2 replicas: server 1 and server 3 (both shard 01)
# Nothing outside DIR is written; `stop` signals only the PIDs recorded under DIR.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

usage() {
    echo "usage: $0 start DIR BASE_PORT | stop DIR | start-server DIR N | stop-server DIR N | kill-server DIR N" >&2
    exit 2
}

running() {
    kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != "Z" ]
}

zookeeper_answers() {
    # "stat" names the server's mode once it takes sessions ("ruok" answers earlier than that, and a
    # clickhouse-server 18.16 started in between keeps no session for distributed DDL and crashes on its first
    # ON CLUSTER statement).
    local reply
    reply=$(bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf stat >&3 && timeout 2 cat <&3" 2>/dev/null || true)
    [[ "$reply" == *"Mode: standalone"* ]]
}

start_zookeeper() {
    local dir=$1 port=$2
    local pidfile="$dir/zookeeper.pid"
    if [ -f "$pidfile" ] && running "$(cat "$pidfile")" && zookeeper_answers "$port"; then
        echo "zookeeper already running (pid $(cat "$pidfile"))"
        return 0
    fi
    [ -f /usr/share/java/zookeeper.jar ] || { echo "zookeeper not found; apt-get install -y zookeeper" >&2; return 1; }
    mkdir -p "$dir/data" "$dir/conf" "$dir/log"
    cat >"$dir/conf/zoo.cfg" <<EOF
tickTime=500
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPortAddress=127.0.0.1
clientPort=$port
maxClientCnxns=200
admin.enableServer=false
4lw.commands.whitelist=ruok,stat
EOF
    cat >"$dir/conf/log4j.properties" <<EOF
log4j.rootLogger=WARN, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=$dir/log/zookeeper.log
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d %p [%t] %c: %m%n
EOF
    (
        cd "$dir" || exit 1
        nohup java -Xmx256m -cp "$dir/conf:/usr/share/java/zookeeper.jar" \
            -Dzookeeper.log.dir="$dir/log" -Dlog4j.configuration="file:$dir/conf/log4j.properties" \
            org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/conf/zoo.cfg" >"$dir/log/stdout.log" 2>&1 &
        echo $! >"$pidfile"
    )
    local pid
    pid=$(cat "$pidfile")
    for _ in $(seq 1 150); do
        if zookeeper_answers "$port"; then
            echo "zookeeper started (pid $pid, port $port, dir $dir)"
            return 0
        fi
        running "$pid" || break
        sleep 0.2
    done
    echo "zookeeper did not start; see $dir/log" >&2
    tail -n 20 "$dir/log/stdout.log" >&2 || true
    kill "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    return 1
}

stop_pid() {
    local pidfile=$1 what=$2 signal=${3:-TERM}
    [ -f "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    if running "$pid"; then
        kill "-$signal" "$pid"
        for _ in $(seq 1 100); do
            running "$pid" || break
            sleep 0.1
        done
        running "$pid" && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    echo "$what stopped (pid $pid)"
}

server_xml() {
    # The cluster part of server N's config: macros, ZooKeeper, both clusters' shards and replicas.
    local n=$1 base=$2
    local shard
    case "$n" in 1 | 3) shard=01 ;; 2) shard=02 ;; esac
    cat <<EOF
<?xml version="1.0"?>
<yandex>
    <macros>
        <shard>$shard</shard>
        <replica>ch$n</replica>
    </macros>
    <zookeeper>
        <node><host>127.0.0.1</host><port>$base</port></node>
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
    <remote_servers>
        <canary_shards>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$((base + 1))</port></replica>
            </shard>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$((base + 2))</port></replica>
            </shard>
        </canary_shards>
        <canary_replicas>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$((base + 1))</port></replica>
                <replica><host>127.0.0.1</host><port>$((base + 3))</port></replica>
            </shard>
        </canary_replicas>
    </remote_servers>
</yandex>
EOF
}

start_server() {
    local dir=$1 n=$2
    local base
    base=$(cat "$dir/base_port")
    mkdir -p "$dir/ch$n/config.d"
    server_xml "$n" "$base" >"$dir/ch$n/config.d/cluster.xml"
    bash "$HERE/clickhouse.sh" start "$dir/ch$n" $((base + n)) $((base + 10 + n)) $((base + 20 + n))
}

start() {
    [ $# -eq 2 ] || usage
    mkdir -p "$1"
    local dir base=$2
    dir=$(cd "$1" && pwd)
    echo "$base" >"$dir/base_port"
    start_zookeeper "$dir/zookeeper" "$base"
    for n in 1 2 3; do
        start_server "$dir" "$n"
    done
}

stop() {
    [ $# -eq 1 ] || usage
    local dir=$1
    for n in 1 2 3; do
        [ -d "$dir/ch$n" ] && bash "$HERE/clickhouse.sh" stop "$dir/ch$n"
    done
    stop_pid "$dir/zookeeper/zookeeper.pid" zookeeper
}

[ $# -ge 1 ] || usage
command=$1
shift
case "$command" in
    start) start "$@" ;;
    stop) stop "$@" ;;
    start-server) [ $# -eq 2 ] || usage; start_server "$(cd "$1" && pwd)" "$2" ;;
    stop-server) [ $# -eq 2 ] || usage; bash "$HERE/clickhouse.sh" stop "$1/ch$2" ;;
    kill-server) [ $# -eq 2 ] || usage; stop_pid "$1/ch$2/clickhouse.pid" "clickhouse-server ch$2" KILL ;;
    *) usage ;;
esac
