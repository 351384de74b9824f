#!/usr/bin/env bash
# Real Apache Kafka broker for development and CI (no Docker): see /work/shared/DESIGN.md,
# "Kafka for development and CI".
#
#   scripts/kafka.sh fetch    download the official Kafka jars from Maven Central once
#                             (into .cache/kafka/<version>/libs; skipped when present)
#   scripts/kafka.sh start    format a fresh single-node KRaft store, start the broker in the
#                             background, wait until it answers a Metadata request, then print
#                             KAFKA_BROKERS=127.0.0.1:<port>
#   scripts/kafka.sh stop     SIGTERM, wait, SIGKILL after KAFKA_STOP_TIMEOUT; idempotent
#   scripts/kafka.sh status   exit 0 when running and answering, 1 when running but not
#                             answering, 3 when not running
#   scripts/kafka.sh logs     tail of the broker log
#
# Environment (all optional):
#   KAFKA_VERSION          Kafka version to fetch/run (default below)
#   KAFKA_PORT             client listener, PLAINTEXT://127.0.0.1:<port> (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener (default KAFKA_PORT + 1)
#   KAFKA_EDGE_PORT, KAFKA_EDGE_ADVERTISED_PORT  a second client listener EDGE://127.0.0.1:<port>
#                          that tells clients to come back through <advertised port>: a proxy
#                          in front of it (the edge e2e test cuts the "uplink" there), while
#                          clients of PLAINTEXT reach the broker directly, as central ones do
#   KAFKA_SECURE_PORT      a SASL_SSL client listener SECURE://127.0.0.1:<port>, as a site's
#                          uplink to a central Kafka is secured: TLS with the PKCS12 keystore
#                          KAFKA_SECURE_KEYSTORE (password KAFKA_SECURE_KEYSTORE_PASSWORD) and
#                          SASL/PLAIN for the users of KAFKA_SECURE_USERS ("name:password,...")
#   KAFKA_CACHE_DIR        default <repo>/.cache/kafka
#   KAFKA_KEEP_DATA=1      keep the log dirs of the previous run instead of a fresh store
#   KAFKA_AUTO_CREATE_TOPICS  auto.create.topics.enable (default false: create topics explicitly)
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to answer (default 90)
#   KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (default 30)
#   KAFKA_HEAP_OPTS        default "-Xms128m -Xmx512m"
#   KAFKA_GC_OPTS          default G1 with 20 ms pause target
#   KAFKA_JVM_OPTS         extra JVM options, appended
#
# Version choice: Kafka 4.4.0, the newest release on Maven Central (checked 2026-11-28). Kafka
# 4.0 dropped the protocol versions older than Kafka 2.1 (KIP-896), so it was tested against
# kafkajs 2.2.4 (the client Vigil uses) before anything else; it works. Every API kafkajs 2.2.4
# implements still has a common version with the 4.x brokers (kafkajs speaks Produce v7,
# Fetch v11, ListOffsets v3, Metadata v6, OffsetCommit v5, OffsetFetch v4, JoinGroup v5,
# SyncGroup/Heartbeat/LeaveGroup v3, CreateTopics v3, DeleteTopics v1, InitProducerId,
# AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit v1; the 4.x floors are Fetch 4,
# OffsetCommit 2, CreateTopics 2, DeleteTopics 1, DescribeConfigs 1, ListOffsets 1). With
# test/kafka-broker.e2e-spec.ts plus extra admin calls, kafkajs passed on 4.4.0, 4.3.1, 4.1.2,
# 4.0.2 and 3.9.2 alike: createTopics with 6 partitions, keyed produce with headers, a
# two-member consumer group splitting the partitions after a rebalance, committed offsets
# resumed after reconnecting, a transactional producer with sendOffsets (exactly-once
# read-process-write, aborted records hidden from read_committed), describeConfigs,
# fetchTopicOffsets, describe/deleteGroups, createPartitions, deleteTopics. No 3.9.x fallback
# is needed. Watch when bumping: DeleteTopics and the ACL APIs already sit on kafkajs's highest
# version, so a Kafka release that raises those floors again would break kafkajs; run
# `KAFKA_VERSION=<new> KAFKA_PORT=19092 scripts/kafka.sh start` and that test against it first.
set -euo pipefail

DEFAULT_KAFKA_VERSION=4.4.0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/scripts/kafka

KAFKA_VERSION=${KAFKA_VERSION:-$DEFAULT_KAFKA_VERSION}
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}
EDGE_PORT=${KAFKA_EDGE_PORT:-}
EDGE_ADVERTISED_PORT=${KAFKA_EDGE_ADVERTISED_PORT:-$EDGE_PORT}
SECURE_PORT=${KAFKA_SECURE_PORT:-}
CACHE=${KAFKA_CACHE_DIR:-$ROOT/.cache/kafka}
LIBS=$CACHE/$KAFKA_VERSION/libs
DATA=$CACHE/data-$PORT
PID_FILE=$CACHE/broker-$PORT.pid
LOG_FILE=$CACHE/broker-$PORT.log
PROPS=$CACHE/broker-$PORT.properties
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
HOST=127.0.0.1

say() { echo "kafka.sh: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# ---------------------------------------------------------------------------------------- fetch

libs_present() { [[ -f $LIBS/.complete ]]; }

cmd_fetch() {
  if libs_present; then
    say "Kafka $KAFKA_VERSION jars already in ${LIBS#"$ROOT"/}"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found: Maven is needed to fetch the Kafka jars"
  local tmp=$LIBS.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  say "fetching Kafka $KAFKA_VERSION jars from Maven Central into ${LIBS#"$ROOT"/}"
  # Build output (if any) goes to the cache, never into scripts/kafka. MAVEN_OPTS passes
  # through, e.g. MAVEN_OPTS=-Dmaven.repo.local=/ci/cache/m2.
  if ! mvn -B -f "$HERE/pom.xml" \
    -Dkafka.version="$KAFKA_VERSION" -Dkafka.build.dir="$tmp/.target" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
    >"$tmp.mvn.log" 2>&1; then
    grep -E '\[(ERROR|WARNING)\]' "$tmp.mvn.log" | tail -n 30 >&2 || tail -n 30 "$tmp.mvn.log" >&2
    rm -rf "$tmp" "$tmp.mvn.log"
    rmdir "$CACHE/$KAFKA_VERSION" 2>/dev/null || true
    die "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (is it on Maven Central?)"
  fi
  rm -rf "$tmp/.target" "$tmp.mvn.log"
  [[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] || {
    rm -rf "$tmp"
    die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
  }
  touch "$tmp/.complete"
  if libs_present; then # a concurrent fetch finished first
    rm -rf "$tmp"
    return 0
  fi
  rm -rf "$LIBS"
  mv -T "$tmp" "$LIBS"
  say "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1))"
}

# ------------------------------------------------------------------------------------- helpers

# The pid in PID_FILE if that process is alive and is our broker (not a recycled pid).
broker_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $PROPS" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# One real Kafka request: Metadata v4 (all topics) on the client listener, parsed with plain
# Node (no node_modules needed). Succeeds when the broker lists itself as an available broker.
metadata_ok() {
  node - "$HOST" "$PORT" "${1:-5000}" <<'EOF'
const net = require('node:net');
const [host, port, timeoutMs] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const fail = (why) => { if (process.env.KAFKA_SH_VERBOSE) console.error(why); process.exit(1); };
setTimeout(() => fail('metadata request timed out'), timeoutMs).unref();
const clientId = Buffer.from('vigil-kafka-sh');
const head = Buffer.alloc(10);
head.writeInt16BE(3, 0); // api_key Metadata
head.writeInt16BE(4, 2); // api_version 4 (supported by Kafka 2.x .. 4.x)
head.writeInt32BE(42, 4); // correlation_id
head.writeInt16BE(clientId.length, 8);
const body = Buffer.alloc(5);
body.writeInt32BE(-1, 0); // topics: null = all
body.writeInt8(0, 4); // allow_auto_topic_creation: false
const msg = Buffer.concat([head, clientId, body]);
const size = Buffer.alloc(4);
size.writeInt32BE(msg.length, 0);
let buf = Buffer.alloc(0);
const sock = net.connect({ host, port }, () => sock.write(Buffer.concat([size, msg])));
sock.on('error', (e) => fail(e.message));
sock.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return;
  let o = 4;
  const i32 = () => { const v = buf.readInt32BE(o); o += 4; return v; };
  const str = () => { const n = buf.readInt16BE(o); o += 2; if (n < 0) return null; const s = buf.toString('utf8', o, o + n); o += n; return s; };
  if (i32() !== 42) fail('bad correlation id');
  i32(); // throttle_time_ms
  const brokers = [];
  for (let n = i32(); n > 0; n--) brokers.push({ id: i32(), host: str(), port: i32(), rack: str() });
  const clusterId = str();
  sock.destroy();
  if (!brokers.some((b) => b.port === port)) fail('no available broker in metadata yet');
  console.log(`cluster ${clusterId}, broker ${brokers.map((b) => `${b.id}@${b.host}:${b.port}`).join(',')}`);
  process.exit(0);
});
EOF
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

log_tail() {
  if [[ -f $LOG_FILE ]]; then
    say "last lines of ${LOG_FILE#"$ROOT"/}:"
    tail -n "${1:-40}" "$LOG_FILE" >&2
  fi
}

write_properties() {
  cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh start; edits are overwritten.
# Single-node KRaft: this process is both the broker and the (only) controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT${EDGE_PORT:+,EDGE://$HOST:$EDGE_PORT}${SECURE_PORT:+,SECURE://$HOST:$SECURE_PORT}
advertised.listeners=PLAINTEXT://$HOST:$PORT${EDGE_PORT:+,EDGE://$HOST:$EDGE_ADVERTISED_PORT}${SECURE_PORT:+,SECURE://$HOST:$SECURE_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${EDGE_PORT:+,EDGE:PLAINTEXT}${SECURE_PORT:+,SECURE:SASL_SSL}
log.dirs=$DATA

# One broker: every internal topic has one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
# Fewer internal partitions than the production default of 50: faster first group join and
# first transaction on a 2-core machine.
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10

num.partitions=6
auto.create.topics.enable=${KAFKA_AUTO_CREATE_TOPICS:-false}
delete.topic.enable=true
# Tests join groups immediately instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0

# Small machine: few threads.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
log.retention.hours=24
log.segment.bytes=67108864
EOF
  if [[ -n $SECURE_PORT ]]; then secure_properties >>"$PROPS"; fi
}

# The SECURE listener: TLS from a PKCS12 keystore, SASL/PLAIN with the users given.
secure_properties() {
  [[ -f ${KAFKA_SECURE_KEYSTORE:-} ]] || die "KAFKA_SECURE_PORT needs KAFKA_SECURE_KEYSTORE (a PKCS12 file)"
  [[ -n ${KAFKA_SECURE_USERS:-} ]] || die "KAFKA_SECURE_PORT needs KAFKA_SECURE_USERS (name:password,...)"
  local users='' entry
  local -a entries
  IFS=',' read -r -a entries <<<"$KAFKA_SECURE_USERS"
  for entry in "${entries[@]}"; do
    [[ $entry == *:* ]] || die "KAFKA_SECURE_USERS: \"$entry\" is not name:password"
    users+=" user_${entry%%:*}=\"${entry#*:}\""
  done
  cat <<EOF
listener.name.secure.ssl.keystore.type=PKCS12
listener.name.secure.ssl.keystore.location=$KAFKA_SECURE_KEYSTORE
listener.name.secure.ssl.keystore.password=${KAFKA_SECURE_KEYSTORE_PASSWORD:-}
listener.name.secure.ssl.key.password=${KAFKA_SECURE_KEYSTORE_PASSWORD:-}
listener.name.secure.sasl.enabled.mechanisms=PLAIN
listener.name.secure.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$users;
EOF
}

# --------------------------------------------------------------------------------------- start

cmd_start() {
  local pid
  if pid=$(broker_pid); then
    if metadata_ok >/dev/null; then
      say "already running (pid $pid)"
      echo "KAFKA_BROKERS=$HOST:$PORT"
      return 0
    fi
    die "a broker (pid $pid) is running on port $PORT but does not answer; run: scripts/kafka.sh stop"
  fi
  rm -f "$PID_FILE"
  command -v java >/dev/null 2>&1 || die "java not found: Java 17+ is needed to run Kafka"
  local java_major
  java_major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  ((${java_major%%.*} >= 17)) 2>/dev/null || die "Kafka $KAFKA_VERSION needs Java 17+, found java ${java_major:-?}"
  command -v node >/dev/null 2>&1 || die "node not found"
  local p
  for p in "$PORT" "$CONTROLLER_PORT" $EDGE_PORT $SECURE_PORT; do
    if port_open "$p"; then
      die "port $p on $HOST is already in use by another process (set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
    fi
  done
  cmd_fetch
  mkdir -p "$CACHE"

  local t0=$SECONDS
  write_properties
  if [[ ${KAFKA_KEEP_DATA:-0} != 1 ]]; then rm -rf "$DATA"; fi
  # Sized for a 2-core machine that runs the tests too. C1 only (TieredStopAtLevel=1): starts
  # ~2 s faster and uses ~30% less CPU than the default C2 JIT; a test broker never runs long
  # enough to profit from C2. Capped code cache, direct memory and malloc arenas keep the RSS
  # near 300-400 MiB.
  local heap=${KAFKA_HEAP_OPTS:-"-Xms128m -Xmx512m"}
  local gc=${KAFKA_GC_OPTS:-"-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35"}
  local -a jvm
  # shellcheck disable=SC2206 # word splitting of the option strings is intended
  jvm=($heap $gc -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=64m
    -XX:MaxDirectMemorySize=128m -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$CACHE"
    ${KAFKA_JVM_OPTS:-})
  export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}

  if [[ ! -f $DATA/meta.properties ]]; then
    local cluster_id
    # A KRaft cluster id is 16 random bytes, base64url without padding.
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    # `--cluster-id=…` in one word: an id may start with "-", which as a separate word the
    # argument parser takes for an option (1 start in 64 failed that way).
    if ! java "${jvm[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format \
      --cluster-id="$cluster_id" -c "$PROPS" >"$LOG_FILE" 2>&1; then
      log_tail
      die "formatting the KRaft storage in ${DATA#"$ROOT"/} failed"
    fi
  else
    : >"$LOG_FILE"
  fi

  # setsid: the broker survives the shell (and Ctrl-C) that started it; the inner bash writes
  # its own pid and then becomes java, so the pid file always names the JVM.
  # shellcheck disable=SC2016 # $$ and $@ are for the inner bash
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    java "${jvm[@]}" -cp "$LIBS/*" kafka.Kafka "$PROPS" >>"$LOG_FILE" 2>&1 </dev/null &
  local launcher=$! deadline=$((SECONDS + START_TIMEOUT)) info
  while :; do
    sleep 0.5
    if ! pid=$(broker_pid); then
      if ! kill -0 "$launcher" 2>/dev/null; then
        log_tail 60
        rm -f "$PID_FILE"
        die "the Kafka broker exited during startup (log: ${LOG_FILE#"$ROOT"/})"
      fi
      # else: the inner bash has not exec'd java yet
    elif port_open "$PORT" && info=$(metadata_ok 5000); then
      break
    fi
    if ((SECONDS >= deadline)); then
      log_tail 60
      say "the Kafka broker did not answer on $HOST:$PORT within ${START_TIMEOUT}s; stopping it"
      cmd_stop || true
      exit 1
    fi
  done
  say "Kafka $KAFKA_VERSION ready in $((SECONDS - t0))s (pid $pid, $info, log ${LOG_FILE#"$ROOT"/})"
  echo "KAFKA_BROKERS=$HOST:$PORT"
}

# ---------------------------------------------------------------------------------------- stop

cmd_stop() {
  local pid
  if ! pid=$(broker_pid); then
    rm -f "$PID_FILE"
    say "not running on port $PORT"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      say "broker (pid $pid) still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$PID_FILE"
  say "stopped (pid $pid)"
}

# -------------------------------------------------------------------------------------- status

cmd_status() {
  local pid
  if ! pid=$(broker_pid); then
    echo "kafka: not running on port $PORT (version $KAFKA_VERSION, jars $(libs_present && echo present || echo 'not fetched'))"
    return 3
  fi
  local info
  if info=$(metadata_ok 5000); then
    echo "kafka: running, pid $pid, KAFKA_BROKERS=$HOST:$PORT, RSS $(($(rss_kib "$pid") / 1024)) MiB, $info"
    return 0
  fi
  echo "kafka: pid $pid is running but $HOST:$PORT does not answer a Metadata request"
  return 1
}

case ${1:-} in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  logs) tail -n "${2:-100}" "$LOG_FILE" ;;
  *)
    echo "usage: scripts/kafka.sh fetch|start|stop|status|logs [lines]" >&2
    exit 2
    ;;
esac
