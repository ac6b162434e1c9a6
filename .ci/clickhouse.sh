#!/usr/bin/env bash
# Start or stop a private ClickHouse server (Debian's clickhouse-server package) as a background process.
#
#   bash .ci/clickhouse.sh start DIR TCP_PORT HTTP_PORT [INTERSERVER_PORT]
#   bash .ci/clickhouse.sh stop  DIR
#
# The server keeps everything (config, data, logs, pidfile) under DIR and listens on 127.0.0.1 only.
# INTERSERVER_PORT is for replicas of a cluster (.ci/cluster.sh), which fetch parts from each other; other files
# already in DIR/config.d (a cluster's remote_servers, macros and zookeeper sections) are kept.
# `stop` signals only the PID recorded in DIR/clickhouse.pid.
set -euo pipefail

usage() {
    echo "usage: $0 start DIR TCP_PORT HTTP_PORT [INTERSERVER_PORT] | stop DIR" >&2
    exit 2
}

server_bin() {
    for candidate in /usr/bin/clickhouse-server /usr/sbin/clickhouse-server /usr/bin/clickhouse; do
        if [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    echo "clickhouse-server not found; apt-get install -y clickhouse-server" >&2
    return 1
}

write_config() {
    local dir=$1 tcp_port=$2 http_port=$3 interserver_port=${4:-}
    local interserver='<interserver_http_port remove="remove"/>'
    if [ -n "$interserver_port" ]; then
        interserver="<interserver_http_port>$interserver_port</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>"
    fi
    mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log" "$dir/config.d"
    cp /etc/clickhouse-server/config.xml "$dir/config.xml"
    cp /etc/clickhouse-server/users.xml "$dir/users.xml"
    # Files in config.d are merged over config.xml element by element.
    cat >"$dir/config.d/canary.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$tcp_port</tcp_port>
    <http_port>$http_port</http_port>
    $interserver
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <timezone>UTC</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
</yandex>
EOF
}

running() {
    # A zombie still answers kill -0; it is not running.
    kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != "Z" ]
}

answers() {
    local http_port=$1
    [ "$(curl -fsS --max-time 2 "http://127.0.0.1:$http_port/?query=SELECT%201" 2>/dev/null)" = "1" ]
}

start() {
    [ $# -eq 3 ] || [ $# -eq 4 ] || usage
    local dir tcp_port=$2 http_port=$3 interserver_port=${4:-}
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    local pidfile="$dir/clickhouse.pid"
    if [ -f "$pidfile" ] && running "$(cat "$pidfile")"; then
        if answers "$http_port"; then
            echo "clickhouse-server already running (pid $(cat "$pidfile"))"
            return 0
        fi
    fi
    write_config "$dir" "$tcp_port" "$http_port" "$interserver_port"
    local bin
    bin=$(server_bin)
    (
        cd "$dir" || exit 1
        nohup "$bin" --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 &
        echo $! >"$pidfile"
    )
    local pid
    pid=$(cat "$pidfile")
    for _ in $(seq 1 150); do
        if answers "$http_port"; then
            echo "clickhouse-server started (pid $pid, tcp $tcp_port, http $http_port, dir $dir)"
            return 0
        fi
        if ! running "$pid"; then
            echo "clickhouse-server exited during startup; see $dir/log" >&2
            tail -n 20 "$dir/log/clickhouse-server.err.log" "$dir/log/stdout.log" >&2 || true
            rm -f "$pidfile"
            return 1
        fi
        sleep 0.2
    done
    echo "clickhouse-server did not answer SELECT 1 within 30 s; stopping pid $pid" >&2
    kill "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    return 1
}

stop() {
    [ $# -ge 1 ] || usage
    local dir=$1
    local pidfile="$dir/clickhouse.pid"
    if [ ! -f "$pidfile" ]; then
        echo "no pidfile at $pidfile; nothing to stop"
        return 0
    fi
    local pid
    pid=$(cat "$pidfile")
    if running "$pid"; then
        kill -TERM "$pid"
        for _ in $(seq 1 100); do
            running "$pid" || break
            sleep 0.1
        done
        if running "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
    echo "clickhouse-server stopped (pid $pid)"
}

[ $# -ge 1 ] || usage
command=$1
shift
case "$command" in
    start) start "$@" ;;
    stop) stop "$@" ;;
    *) usage ;;
esac
