#!/usr/bin/env bash
# Install what the local clets-watch stack needs and the machine lacks, then resolve the Kafka jars.
#
#   prometheus, prometheus-alertmanager, postgresql (server binaries),
#   default-jre-headless (only if java is missing), maven (only if mvn is missing),
#   chromium (the console's headless-browser tests)
#
# Idempotent and non-interactive: runs `apt-get update` only when something must be installed, needs root
# for apt-get (uses sudo -n when not root), reads nothing from stdin. The Kafka jars go to the cache outside
# the git tree: ${CLETS_WATCH_CACHE:-~/.cache/clets-watch}/kafka-<version>/libs.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"

log() { printf 'setup-system: %s\n' "$*" >&2; }

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

have_postgres_server() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1
}

missing=()
have_pkg prometheus || command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
have_pkg prometheus-alertmanager || command -v prometheus-alertmanager >/dev/null 2>&1 \
    || command -v alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
have_postgres_server || missing+=(postgresql)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
# the console's browser tests drive Debian's chromium through Playwright (no `playwright install`)
have_pkg chromium || command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        log "missing: ${missing[*]}; run this script as root (or with passwordless sudo) to install them"
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        log "missing: ${missing[*]}; this script installs with apt-get (Debian/Ubuntu) - install them by hand"
        exit 1
    fi
    log "installing: ${missing[*]}"
    "${SUDO[@]}" apt-get update -q </dev/null
    # --no-install-recommends keeps it small; policy-rc.d-less machines (no systemd) just don't start daemons
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
else
    log "system packages present: prometheus, prometheus-alertmanager, postgresql, java, maven, chromium"
fi

# The Kafka jars (Maven Central via mvn), cached outside the git tree.
if [[ -x "$ROOT/.venv/bin/python" ]] && "$ROOT/.venv/bin/python" -c 'import clets_watch.stack' 2>/dev/null; then
    libs="$(cd "$ROOT" && .venv/bin/python -c '
from clets_watch.stack import Stack, StackConfig
import sys
print(Stack(StackConfig(kafka_version=sys.argv[1])).ensure_kafka_jars())
' "$KAFKA_VERSION" </dev/null)"
else
    cache="${CLETS_WATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clets-watch}"
    work="$cache/kafka-$KAFKA_VERSION"
    libs="$work/libs"
    if [[ ! -f "$libs/.complete" ]]; then
        mkdir -p "$work"
        cat >"$work/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>clets-watch</groupId>
  <artifactId>kafka-local</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
POM
        rm -rf "$work/libs.partial"
        (cd "$work" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$work/libs.partial" </dev/null)
        rm -rf "$libs"
        mv "$work/libs.partial" "$libs"
        echo "$KAFKA_VERSION" >"$libs/.complete"
    fi
fi
log "Kafka $KAFKA_VERSION jars: $libs"
