#!/usr/bin/env bash
# Bring up on this machine what `make run` and `make test` need, acting only on what is
# missing (seconds when everything is already up). Called by the Makefile and, through
# `make test`, by .ci/run.
#
#   deploy/dev/bring-up.sh [--check] [part ...]
#
# parts (default: all, in this order):
#   rabbitmq    the local broker on 127.0.0.1:5672 (rabbitmq-server -detached)
#   management  the plugins deploy/rabbitmq/enabled_plugins declares, and the management
#               API on 127.0.0.1:15672 answering (nameko's test plugin makes a vhost per test
#               through it)
#   postgres    the local cluster on 127.0.0.1:5432 and its database `test`
#   chromium    Debian's chromium and chromium-driver (the page tests), and a Chinese font
#               (fonts-wqy-zenhei) so that their screenshots can be read
#   promtool    promtool, taken out of Debian's prometheus package (the scrape config test)
# --check: act on nothing, say what is missing, exit 1 if anything is.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PLUGINS_FILE="$ROOT/deploy/rabbitmq/enabled_plugins"
AMQP_PORT=5672
RABBITMQ_API=${RABBITMQ_API:-http://127.0.0.1:15672}
RABBITMQ_USER=guest:guest
PG_PORT=5432
PG_DATABASE=test
WAIT_SECONDS=60
ALL_PARTS=(rabbitmq management postgres chromium promtool)
export DEBIAN_FRONTEND=noninteractive

say() { echo "bring-up: $*"; }
failed=()
# `fail PART message...`: one line on stderr; the run ends with status 1.
fail() { echo "bring-up: ${*:2}" >&2; failed+=("$1"); }

check_only=""
parts=()
for arg in "$@"; do
    case "$arg" in
        --check) check_only=1 ;;
        -h|--help) sed -n '2,/^set/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
        rabbitmq|management|postgres|chromium|promtool) parts+=("$arg") ;;
        *) echo "bring-up: unknown part '$arg'; known: ${ALL_PARTS[*]} (and --check)" >&2
           exit 2 ;;
    esac
done
[ ${#parts[@]} -gt 0 ] || parts=("${ALL_PARTS[@]}")
wanted() { local p; for p in "${parts[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }
# The management API needs the broker.
wanted management && ! wanted rabbitmq && parts=(rabbitmq "${parts[@]}")

# Two `make test` at once must not both start RabbitMQ or both run apt-get.
if [ -z "$check_only" ] && command -v flock >/dev/null 2>&1; then
    exec 9>"${TMPDIR:-/tmp}/gonghui-bring-up.lock" && flock 9
fi

started=$EPOCHREALTIME
acted=()

# Run as root, or through sudo when it needs no password.
can_root() {
    [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
# `root_or_fail PART command`: true when we may run as root, else says what to run.
root_or_fail() {
    can_root && return 0
    fail "$1" "$1 is missing and this needs root: run \`sudo ${*:2}\`"
    return 1
}

# `until_true SECONDS command...`: poll once a second.
until_true() {
    local seconds=$1; shift
    for _ in $(seq 1 "$seconds"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
    "$@" >/dev/null 2>&1
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq || return $?
        apt_updated=1
    fi
    # (debconf's "delaying package configuration" note is noise; real errors still show)
    as_root apt-get install -y -qq --no-install-recommends "$@" 2>&1 >/dev/null \
        | grep -v '^debconf: delaying' >&2
    return "${PIPESTATUS[0]}"
}

# ---------------------------------------------------------------- RabbitMQ
rabbitmq_up() { port_open "$AMQP_PORT"; }

bring_up_rabbitmq() {
    rabbitmq_up && return 0
    if [ -n "$check_only" ]; then
        fail rabbitmq "RabbitMQ is not running on 127.0.0.1:$AMQP_PORT: run \`make run\`," \
             "\`make test\` or \`rabbitmq-server -detached\`"
        return
    fi
    if ! command -v rabbitmq-server >/dev/null 2>&1; then
        fail rabbitmq "RabbitMQ is not installed: \`apt-get install rabbitmq-server\`"
        return
    fi
    root_or_fail rabbitmq rabbitmq-server -detached || return
    say "starting RabbitMQ (rabbitmq-server -detached)"
    as_root rabbitmq-server -detached >/dev/null 2>&1
    if until_true "$WAIT_SECONDS" rabbitmq-diagnostics -q ping \
            && until_true 10 rabbitmq_up; then
        acted+=("started RabbitMQ")
    else
        fail rabbitmq "RabbitMQ did not come up within ${WAIT_SECONDS}s on" \
             "127.0.0.1:$AMQP_PORT: see /var/log/rabbitmq/"
    fi
}

# The plugins deploy/rabbitmq/enabled_plugins declares ("[a,b]." on one line).
declared_plugins() { tr -d '[].\n ' <"$PLUGINS_FILE" | tr ',' ' '; }

# The declared plugins the running node has not enabled ("" when all are); fails when the
# management API does not answer.
missing_plugins() {
    local enabled plugin missing=()
    enabled=$(curl -fsS -m 3 -u "$RABBITMQ_USER" \
              "$RABBITMQ_API/api/nodes?columns=enabled_plugins" 2>/dev/null) || return 1
    for plugin in $(declared_plugins); do
        [[ $enabled == *"\"$plugin\""* ]] || missing+=("$plugin")
    done
    echo "${missing[*]}"
}

api_up() { curl -fsS -m 3 -u "$RABBITMQ_USER" "$RABBITMQ_API/api/overview" >/dev/null 2>&1; }

bring_up_management() {
    local missing problem
    if missing=$(missing_plugins); then
        [ -n "$missing" ] || return 0
        problem="RabbitMQ plugins off: $missing"
    else
        missing=$(declared_plugins)
        problem="RabbitMQ management API unreachable at $RABBITMQ_API"
    fi
    if [ -n "$check_only" ]; then
        fail management "$problem: run \`make test\` (it enables them) or" \
             "\`rabbitmq-plugins enable $missing\`"
        return
    fi
    rabbitmq_up || return 0  # the broker's own failure is already reported
    root_or_fail management rabbitmq-plugins enable "$missing" || return
    say "enabling RabbitMQ plugins: $missing"
    if ! as_root rabbitmq-plugins enable $missing >/dev/null; then
        fail management "\`rabbitmq-plugins enable $missing\` failed"
        return
    fi
    if until_true "$WAIT_SECONDS" api_up; then
        acted+=("enabled $missing")
    else
        fail management "RabbitMQ management API unreachable at $RABBITMQ_API" \
             "${WAIT_SECONDS}s after \`rabbitmq-plugins enable $missing\`"
    fi
}

# ---------------------------------------------------------------- PostgreSQL
pg_up() { pg_isready -h 127.0.0.1 -p "$PG_PORT" -q 2>/dev/null; }
pg_has_database() {
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$PG_DATABASE" -Atqc 'select 1' \
        >/dev/null 2>&1
}

bring_up_postgres() {
    if pg_up && pg_has_database; then
        return 0
    fi
    if [ -n "$check_only" ]; then
        fail postgres "PostgreSQL (database $PG_DATABASE) unreachable on 127.0.0.1:$PG_PORT:" \
             "run \`make test\` or \`pg_ctlcluster <version> main start\`"
        return
    fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        fail postgres "PostgreSQL is not installed: \`apt-get install postgresql\`"
        return
    fi
    if ! pg_up; then
        # the cluster listening on our port (Debian's pg_lsclusters: version name port ...)
        local cluster
        cluster=$(pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '$3 == port {print $1, $2; exit}')
        [ -n "$cluster" ] || cluster="$(ls /etc/postgresql 2>/dev/null | head -1) main"
        root_or_fail postgres pg_ctlcluster "$cluster" start || return
        say "starting PostgreSQL (pg_ctlcluster $cluster start)"
        # shellcheck disable=SC2086  # "version name"
        as_root pg_ctlcluster --skip-systemctl-redirect $cluster start >/dev/null 2>&1
        if until_true "$WAIT_SECONDS" pg_up; then
            acted+=("started PostgreSQL $cluster")
        else
            fail postgres "PostgreSQL $cluster did not come up on 127.0.0.1:$PG_PORT:" \
                 "see /var/log/postgresql/"
            return
        fi
    fi
    if ! pg_has_database; then
        say "creating PostgreSQL database $PG_DATABASE"
        if createdb -h 127.0.0.1 -p "$PG_PORT" -U postgres "$PG_DATABASE" 2>/dev/null \
                && pg_has_database; then
            acted+=("created database $PG_DATABASE")
        else
            fail postgres "cannot open database $PG_DATABASE as postgres on" \
                 "127.0.0.1:$PG_PORT: the tests need trust authentication for local TCP" \
                 "(pg_hba.conf) and \`createdb -U postgres $PG_DATABASE\`"
        fi
    fi
}

# ---------------------------------------------------------------- Chromium
has_chinese_font() { fc-list :lang=zh 2>/dev/null | grep -q .; }

bring_up_chromium() {
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
            && has_chinese_font; then
        return 0
    fi
    if [ -n "$check_only" ]; then
        fail chromium "chromium, chromedriver or a Chinese font missing: run \`make test\`" \
             "or \`apt-get install chromium chromium-driver fonts-wqy-zenhei\`"
        return
    fi
    root_or_fail chromium apt-get install chromium chromium-driver fonts-wqy-zenhei || return
    say "installing chromium, chromium-driver and fonts-wqy-zenhei (apt-get)"
    if apt_install chromium chromium-driver fonts-wqy-zenhei; then
        acted+=("installed chromium")
    else
        fail chromium "could not install chromium: run" \
             "\`sudo apt-get install chromium chromium-driver fonts-wqy-zenhei\`"
    fi
}

# ---------------------------------------------------------------- promtool
bring_up_promtool() {
    if [ -n "${PROMTOOL:-}" ] && [ -x "$PROMTOOL" ] || command -v promtool >/dev/null 2>&1; then
        return 0
    fi
    if [ -n "$check_only" ]; then
        fail promtool "promtool missing: run \`make test\` (it takes it out of Debian's" \
             "prometheus package) or set PROMTOOL"
        return
    fi
    root_or_fail promtool "$0" promtool || return
    say "installing promtool (from Debian's prometheus package, no server)"
    local tmp status=1
    tmp=$(mktemp -d)
    if { [ -n "$apt_updated" ] || { as_root apt-get update -qq && apt_updated=1; }; } \
            && (cd "$tmp" && as_root apt-get download -qq -o APT::Sandbox::User=root prometheus \
                && dpkg-deb -x prometheus_*.deb root) \
            && as_root install -m 755 "$tmp/root/usr/bin/promtool" /usr/local/bin/promtool; then
        status=0
        acted+=("installed promtool")
    fi
    rm -rf "$tmp"
    [ $status = 0 ] || fail promtool "could not install promtool: take usr/bin/promtool out of" \
        "Debian's prometheus package (\`apt-get download prometheus\`) into /usr/local/bin"
}

for part in "${parts[@]}"; do
    "bring_up_$part"
done

elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
if [ ${#failed[@]} -gt 0 ]; then
    echo "bring-up: missing after ${elapsed}s: ${failed[*]}" >&2
    exit 1
fi
if [ ${#acted[@]} -gt 0 ]; then
    say "up: ${parts[*]} (${elapsed}s; $(IFS=,; echo "${acted[*]}" | sed 's/,/, /g'))"
else
    say "already up: ${parts[*]} (${elapsed}s)"
fi
