#!/usr/bin/env bash
# Regenerates the README's pictures. docs/sim-view.png: the bug zoo's lost
# mark_sent drawn by `rosey-sim run --html`. docs/status-page.png, the status page:
# nats-server, a db-service, two `rosey say`s, the evening replay at max speed
# (the bot says both lines and marks them sent), the service stopped (it
# drains and commits), then `rosey web` and
# Chromium's own --screenshot. Needs nats-server and chromium (`bash .ci/run`
# installs both). Ports: NATS_PORT (default 14777), WEB_PORT (18777).
set -euo pipefail
cd "$(dirname "$0")/.."

nats_port="${NATS_PORT:-14777}"
web_port="${WEB_PORT:-18777}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Waits (at most 30 s) until the file $1 contains the text $2.
wait_for_log() {
  for _ in $(seq 300); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no \"$2\" in $1 after 30 s:" >&2
  cat "$1" >&2
  exit 1
}

# Headless Chromium's own screenshot of URL $1 into $2 at window size $3,
# taken $4 ms after the load (the page's live updates keep it loading).
screenshot() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --user-data-dir="$(mktemp -d -p "$work")" --hide-scrollbars \
    --window-size="$3" --timeout="$4" --screenshot="$2" "$1" 2>>"$work/chromium.log"
  echo "wrote $2 ($(stat -c %s "$2") bytes)"
}

cargo build --release --quiet --bin rosey
rosey=(target/release/rosey --nats-url "nats://127.0.0.1:$nats_port" --db "$work/bot_data.db")
export ROSEY_LOG=info NO_COLOR=1

nats-server -a 127.0.0.1 -p "$nats_port" >"$work/nats.log" 2>&1 &
pids+=($!)
wait_for_log "$work/nats.log" "Server is ready"
"${rosey[@]}" db-service >"$work/db.out" 2>"$work/db.log" &
pids+=($!)
wait_for_log "$work/db.log" "db-service subscribed"
"${rosey[@]}" say "Welcome to the evening, everyone!" >/dev/null 2>>"$work/say.log"
"${rosey[@]}" say "Movie night starts at nine." >/dev/null 2>>"$work/say.log"
"${rosey[@]}" bot --chat replay:fixtures/chat/evening.jsonl,speed=max >"$work/bot.out" 2>"$work/bot.log"
# The service drains and commits on SIGTERM: the page then shows the whole replay.
kill -TERM "${pids[1]}"
wait "${pids[1]}"
"${rosey[@]}" web --listen "127.0.0.1:$web_port" >"$work/web.out" 2>"$work/web.log" &
pids+=($!)
wait_for_log "$work/web.log" "serving the status page"

screenshot "http://127.0.0.1:$web_port/" docs/status-page.png 1280,1750 3000

# The simulator's picture of a failing run: zoo-lost-mark-sent under v0.5.0.
cargo build --release --quiet -p rosey-sim
ROSEY_LOG=error target/release/rosey-sim run fixtures/scenarios/zoo-lost-mark-sent.toml --html "$work/zoo.html" >/dev/null
screenshot "file://$work/zoo.html" docs/sim-view.png 1100,1300 2000
