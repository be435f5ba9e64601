#!/usr/bin/env bash
# kafka-broker.sh — a real Apache Kafka broker (KRaft, one node acting as broker + controller)
# for the tests and for local use. Needs Java 17+ and Maven; everything else is fetched from
# Maven Central into a cache OUTSIDE the repository:
#   ${MEDIC_CACHE:-$HOME/.cache/medic}/kafka-<version>/libs
#
# Version: 4.4.0, the newest 4.x on Maven Central when this was written. Kafka 4.0 removed old
# protocol versions (KIP-896), but kafkajs 2.2.4 negotiates versions through ApiVersions and works
# with it: test/kafkaBroker.test.ts checks admin createTopics/metadata, produce, consumer-group
# consume + offset commit, and a broker restart against 4.4.0. No fallback to 3.9 was needed.
# Override with KAFKA_VERSION=x.y.z. Without it, a candidate already in the cache is used, else
# the candidates below are tried newest first; a data dir remembers the version it was started
# with (DIR/kafka.version), so a restart never switches versions under existing data.
#
# Environment:
#   MEDIC_CACHE          cache root (default $HOME/.cache/medic)
#   KAFKA_VERSION        pin a Kafka version (default: first of KAFKA_CANDIDATES that resolves)
#   KAFKA_HEAP_OPTS      default "-Xmx512m -Xms256m"
#   KAFKA_JVM_OPTS       extra JVM flags appended to the defaults
#   KAFKA_START_TIMEOUT  seconds to wait for the broker (default 90)
#   MAVEN_REPO_LOCAL     Maven local repository used by fetch (default: Maven's own, ~/.m2)
set -euo pipefail

KAFKA_CANDIDATES=(4.4.0 4.3.1 4.2.2 4.1.2 4.0.2)
SCALA_BINARY=2.13
CACHE_ROOT="${MEDIC_CACHE:-$HOME/.cache/medic}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT=30

usage() {
  cat <<'EOF'
Usage: scripts/kafka-broker.sh <command> [options]

Commands:
  fetch                          download Kafka + runtime dependencies into the cache (idempotent);
                                 prints the libs directory
  start --data-dir DIR [--port N]
                                 start a single-node KRaft broker with its data in DIR (format the
                                 storage on first use), wait until it accepts connections and print
                                 its bootstrap address (127.0.0.1:PORT). A restart on the same DIR
                                 reuses the port, the cluster id and the data.
  stop --data-dir DIR            stop the broker of DIR (SIGTERM, SIGKILL after 30 s)
  status --data-dir DIR          print the bootstrap address if running, exit 1 otherwise
  --help                         this text

Files in DIR: server.properties, cluster.id, port, controller.port, kafka.version, broker.pid,
bootstrap, data/ (log.dirs), logs/ (server.log), broker.out (stdout/stderr of the JVM).

Environment: MEDIC_CACHE (cache root, default ~/.cache/medic), KAFKA_VERSION, KAFKA_HEAP_OPTS,
KAFKA_JVM_OPTS, KAFKA_START_TIMEOUT (default 90), MAVEN_REPO_LOCAL.
EOF
}

log() { echo "kafka-broker: $*" >&2; }
die() { log "$*"; exit 1; }

libs_dir() { echo "$CACHE_ROOT/kafka-$1/libs"; }
is_fetched() { [[ -f "$CACHE_ROOT/kafka-$1/.complete" ]]; }

# Downloads org.apache.kafka:kafka_2.13:$1 and its runtime dependencies. Returns 1 if Maven
# cannot resolve that version.
fetch_version() (  # subshell: the lock fd and temp state die with it
  local version="$1" dest tmp lock_fd mvn_args=()
  dest="$CACHE_ROOT/kafka-$version"
  is_fetched "$version" && return 0
  command -v mvn >/dev/null || die "mvn not found (Maven is needed to fetch Kafka)"
  mkdir -p "$CACHE_ROOT" || return 1
  # Two test workers may fetch at once: serialise on a lock and re-check.
  if command -v flock >/dev/null; then
    exec {lock_fd}>"$CACHE_ROOT/.fetch-$version.lock"
    flock "$lock_fd"
    if is_fetched "$version"; then exec {lock_fd}>&-; return 0; fi
  fi
  tmp="$(mktemp -d "$CACHE_ROOT/.fetch-$version.XXXXXX")" || return 1
  cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>medic.local</groupId>
  <artifactId>kafka-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_BINARY</artifactId>
      <version>$version</version>
    </dependency>
  </dependencies>
</project>
EOF
  [[ -n "${MAVEN_REPO_LOCAL:-}" ]] && mvn_args+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
  log "fetching Kafka $version from Maven Central into $dest/libs"
  if ! mvn -B -q -f "$tmp/pom.xml" "${mvn_args[@]}" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1; then
    log "Maven could not resolve Kafka $version:"
    tail -n 15 "$tmp/mvn.log" >&2 || true
    rm -rf "$tmp"
    return 1
  fi
  [[ -f "$tmp/libs/kafka_$SCALA_BINARY-$version.jar" ]] || { log "kafka jar missing after fetch"; rm -rf "$tmp"; return 1; }
  # The kafka_2.13 pom brings slf4j-api and log4j-core (4.x) but no slf4j binding (the binary
  # distribution adds one), so without this the broker would log nothing. Add the log4j2 bridge
  # matching the slf4j major version; 3.x poms already bring slf4j-reload4j.
  if ! compgen -G "$tmp/libs/slf4j-reload4j-*.jar" >/dev/null && ! compgen -G "$tmp/libs/log4j-slf4j*-impl-*.jar" >/dev/null; then
    local core log4j_version bridge=log4j-slf4j2-impl
    core="$(compgen -G "$tmp/libs/log4j-core-*.jar" | head -n 1 || true)"
    [[ -n "$core" ]] || { log "no logging backend among Kafka's dependencies"; rm -rf "$tmp"; return 1; }
    log4j_version="$(basename "$core" .jar)"; log4j_version="${log4j_version#log4j-core-}"
    compgen -G "$tmp/libs/slf4j-api-1.*.jar" >/dev/null && bridge=log4j-slf4j-impl
    if ! mvn -B -q -f "$tmp/pom.xml" "${mvn_args[@]}" \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
        -Dartifact="org.apache.logging.log4j:$bridge:$log4j_version" -DoutputDirectory="$tmp/libs" \
        >>"$tmp/mvn.log" 2>&1; then
      log "could not fetch $bridge $log4j_version:"; tail -n 15 "$tmp/mvn.log" >&2 || true
      rm -rf "$tmp"; return 1
    fi
  fi
  rm -rf "$dest/libs"
  # (set -e is off here: callers test this function's status, so check each step.)
  mkdir -p "$dest" && mv "$tmp/libs" "$dest/libs" || { rm -rf "$tmp"; return 1; }
  rm -rf "$tmp"
  date -u +%FT%TZ >"$dest/.complete" || return 1
)

# Prints the Kafka version to use (fetching it if needed). $1: data dir (optional) whose
# kafka.version file pins the version.
resolve_version() {
  local dir="${1:-}" v
  if [[ -n "$dir" && -f "$dir/kafka.version" ]]; then
    v="$(<"$dir/kafka.version")"
    fetch_version "$v" || die "cannot fetch Kafka $v recorded in $dir/kafka.version"
    echo "$v"; return
  fi
  if [[ -n "${KAFKA_VERSION:-}" ]]; then
    fetch_version "$KAFKA_VERSION" || die "cannot fetch Kafka $KAFKA_VERSION"
    echo "$KAFKA_VERSION"; return
  fi
  for v in "${KAFKA_CANDIDATES[@]}"; do
    if is_fetched "$v"; then echo "$v"; return; fi
  done
  for v in "${KAFKA_CANDIDATES[@]}"; do
    if fetch_version "$v"; then echo "$v"; return; fi
  done
  die "none of the Kafka versions ${KAFKA_CANDIDATES[*]} could be fetched"
}

free_port() {
  if command -v node >/dev/null; then
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{const p=s.address().port;s.close(()=>console.log(p));});'
  elif command -v python3 >/dev/null; then
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
  else
    die "need node or python3 to pick a free port"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

read_pid() { [[ -f "$1/broker.pid" ]] && cat "$1/broker.pid" || true; }

write_configs() {
  local dir="$1" port="$2" cport="$3"
  cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka-broker.sh — single-node KRaft (broker + controller).
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=3
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=168
EOF
  # Kafka 4.x logs through log4j2; the file is also read by reload4j (3.x) via log4j.properties.
  cat >"$dir/log4j2.properties" <<EOF
status = error
name = medic-kafka
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $dir/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
EOF
  cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/logs/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
}

jvm_opts() {
  local dir="$1"
  # shellcheck disable=SC2206
  JVM=(${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -Djava.awt.headless=true
    "-Dkafka.logs.dir=$dir/logs"
    "-Dlog4j2.configurationFile=$dir/log4j2.properties"
    "-Dlog4j.configuration=file:$dir/log4j.properties"
    ${KAFKA_JVM_OPTS:-})
}

cmd_fetch() {
  local v
  v="$(resolve_version)"
  libs_dir "$v"
}

cmd_start() {
  local dir="" port=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --data-dir) dir="${2:?--data-dir needs a value}"; shift 2 ;;
      --port) port="${2:?--port needs a value}"; shift 2 ;;
      *) die "start: unknown option $1" ;;
    esac
  done
  [[ -n "$dir" ]] || die "start: --data-dir is required"
  command -v java >/dev/null || die "java not found (Kafka 4.x needs Java 17+)"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"

  local pid
  pid="$(read_pid "$dir")"
  if pid_alive "$pid"; then
    port="$(<"$dir/port")"
    if port_open "$port"; then
      log "already running (pid $pid)"
      echo "127.0.0.1:$port"
      return 0
    fi
    die "a broker (pid $pid) is running for $dir but not listening; stop it first"
  fi

  local version libs cport
  version="$(resolve_version "$dir")"
  libs="$(libs_dir "$version")"

  # Ports: an explicit --port wins; otherwise the one recorded in DIR; otherwise a free one.
  if [[ -z "$port" && -f "$dir/port" ]]; then port="$(<"$dir/port")"; fi
  [[ -n "$port" ]] || port="$(free_port)"
  if [[ -f "$dir/controller.port" ]]; then cport="$(<"$dir/controller.port")"; fi
  if [[ -z "${cport:-}" || "$cport" == "$port" ]]; then
    cport="$(free_port)"
    while [[ "$cport" == "$port" ]]; do cport="$(free_port)"; done
  fi
  port_open "$port" && die "port $port is already in use"
  echo "$port" >"$dir/port"
  echo "$cport" >"$dir/controller.port"
  echo "$version" >"$dir/kafka.version"
  mkdir -p "$dir/logs" "$dir/data"
  write_configs "$dir" "$port" "$cport"
  jvm_opts "$dir"

  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local cluster_id
    if [[ -f "$dir/cluster.id" ]]; then
      cluster_id="$(<"$dir/cluster.id")"
    else
      cluster_id="$(java -cp "$libs/*" "${JVM[@]}" kafka.tools.StorageTool random-uuid 2>>"$dir/broker.out" | tail -n 1)"
      [[ -n "$cluster_id" ]] || die "could not generate a cluster id (see $dir/broker.out)"
      echo "$cluster_id" >"$dir/cluster.id"
    fi
    log "formatting storage (cluster id $cluster_id)"
    java -cp "$libs/*" "${JVM[@]}" kafka.tools.StorageTool format --standalone \
      -t "$cluster_id" -c "$dir/server.properties" >>"$dir/broker.out" 2>&1 \
      || { tail -n 30 "$dir/broker.out" >&2; die "storage format failed"; }
  fi

  rm -f "$dir/bootstrap"
  # The socket binds before the broker has finished starting: readiness is the port accepting
  # AND "Kafka Server started" logged after this point of server.log.
  local log_offset=0
  [[ -f "$dir/logs/server.log" ]] && log_offset="$(wc -c <"$dir/logs/server.log")"
  echo "--- start $(date -u +%FT%TZ) kafka $version port $port controller $cport" >>"$dir/broker.out"
  # setsid + no inherited stdio: the broker outlives this script and its caller's pipes.
  setsid java -cp "$libs/*" "${JVM[@]}" kafka.Kafka "$dir/server.properties" \
    </dev/null >>"$dir/broker.out" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/broker.pid"

  local deadline=$((SECONDS + START_TIMEOUT))
  until port_open "$port" && tail -c +"$((log_offset + 1))" "$dir/logs/server.log" 2>/dev/null | grep -q "Kafka Server started"; do
    if ! pid_alive "$pid"; then
      log "broker exited during startup; log tail:"
      tail -n 40 "$dir/broker.out" >&2 || true
      tail -n 40 "$dir/logs/server.log" >&2 2>/dev/null || true
      rm -f "$dir/broker.pid"
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      log "broker did not accept connections on port $port within ${START_TIMEOUT}s; log tail:"
      tail -n 40 "$dir/logs/server.log" >&2 2>/dev/null || tail -n 40 "$dir/broker.out" >&2 || true
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$dir/broker.pid"
      exit 1
    fi
    sleep 0.2
  done
  echo "127.0.0.1:$port" >"$dir/bootstrap"
  echo "127.0.0.1:$port"
}

cmd_stop() {
  local dir=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --data-dir) dir="${2:?--data-dir needs a value}"; shift 2 ;;
      *) die "stop: unknown option $1" ;;
    esac
  done
  [[ -n "$dir" ]] || die "stop: --data-dir is required"
  local pid
  pid="$(read_pid "$dir")"
  if ! pid_alive "$pid"; then
    rm -f "$dir/broker.pid" "$dir/bootstrap"
    log "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while pid_alive "$pid"; do
    if ((SECONDS >= deadline)); then
      log "broker (pid $pid) still running after ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$dir/broker.pid" "$dir/bootstrap"
}

cmd_status() {
  local dir=""
  [[ "${1:-}" == "--data-dir" ]] && dir="${2:-}"
  [[ -n "$dir" ]] || die "status: --data-dir is required"
  local pid
  pid="$(read_pid "$dir")"
  if pid_alive "$pid" && [[ -f "$dir/port" ]] && port_open "$(<"$dir/port")"; then
    echo "127.0.0.1:$(<"$dir/port")"
  else
    exit 1
  fi
}

case "${1:-}" in
  fetch) shift; cmd_fetch "$@" ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
