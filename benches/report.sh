#!/usr/bin/env bash
# Regenerates the README's benchmark table.
#
#   bash benches/report.sh            # run the criterion suite, then print the table
#   bash benches/report.sh --no-run   # print the table from the last run's results
#
# Runs `cargo bench` for the four benches (its output goes to stderr), reads
# the median point estimates criterion wrote to <criterion home>/*/new/estimates.json
# and the outbound.get percentiles the outbound_get bench wrote to
# <criterion home>/rosey-percentiles/, computes the ratios and prints a
# Markdown table, the goals, the machine and the run's wall time on stdout.
# The criterion home is criterion's own: $CRITERION_HOME, else
# $CARGO_TARGET_DIR/criterion, else target/criterion.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
crit="${CRITERION_HOME:-$target/criterion}"
benches=(bot_event_cost end_to_end outbound_get ingest)

wall="not run (--no-run)"
stamp=""
if [ "${1:-}" != "--no-run" ]; then
  mkdir -p "$crit"
  rm -rf "$crit/rosey-percentiles"
  stamp="$crit/.report-start"
  touch "$stamp"
  args=()
  for bench in "${benches[@]}"; do args+=(--bench "$bench"); done
  started=$(date +%s)
  cargo bench -p rosey "${args[@]}" --no-run >&2
  built=$(date +%s)
  cargo bench -p rosey "${args[@]}" >&2
  done_=$(date +%s)
  mmss() { echo "$(($1 / 60)) min $(($1 % 60)) s"; }
  wall="$(mmss $((done_ - started))) ($(mmss $((built - started))) building, $(mmss $((done_ - built))) measuring)"
fi

# The median point estimate (ns per iteration) of a benchmark, e.g. end_to_end/live/chat.
median_ns() {
  local file="$crit/$1/new/estimates.json"
  if [ ! -f "$file" ]; then echo "missing $file" >&2; echo nan; return; fi
  if [ -n "$stamp" ] && [ ! "$file" -nt "$stamp" ]; then echo "stale $file" >&2; echo nan; return; fi
  sed -E 's/.*"median":\{"confidence_interval":\{[^}]*\},"point_estimate":([-0-9.eE+]+).*/\1/' "$file"
}

# Elements per iteration (criterion's throughput), 1 when none was set.
elements() {
  local file="$crit/$1/new/benchmark.json"
  local n
  n=$(sed -nE 's/.*"Elements":([0-9]+).*/\1/p' "$file" 2>/dev/null || true)
  echo "${n:-1}"
}

# Median ns per element.
per_element() {
  awk -v t="$(median_ns "$1")" -v n="$(elements "$1")" 'BEGIN { if (t == "nan") print "nan"; else printf "%.3f\n", t / n }'
}

# A percentile (p50_ns, p99_ns, p999_ns, max_ns) of an outbound_get case, e.g. live_idle.
pct() {
  local file="$crit/rosey-percentiles/outbound_get_$1.json"
  if [ ! -f "$file" ]; then echo nan; return; fi
  sed -nE "s/.*\"$2\":([0-9]+).*/\1/p" "$file"
}

# Formats ns as ns / µs / ms.
t() {
  awk -v ns="$1" 'BEGIN {
    if (ns == "nan" || ns == "") { print "n/a"; exit }
    if (ns < 1000) printf "%.0f ns\n", ns
    else if (ns < 1e6) printf "%.2f µs\n", ns / 1e3
    else printf "%.2f ms\n", ns / 1e6 }'
}

# Events per second from ns per event.
rate() {
  awk -v ns="$1" 'BEGIN {
    if (ns == "nan" || ns == "" || ns <= 0) { print "n/a"; exit }
    r = 1e9 / ns
    if (r >= 1e6) printf "%.2f M/s\n", r / 1e6
    else if (r >= 1e3) printf "%.1f k/s\n", r / 1e3
    else printf "%.0f /s\n", r }'
}

# a / b, as "0.12x".
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "n/a"; else printf "%.3gx\n", a / b }'
}

# Whether a <= b: "met" or "missed".
verdict() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan") print "n/a"; else if (a <= b) print "met"; else print "missed" }'
}

nats_bin="${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
cpu=$(sed -nE 's/^model name[[:space:]]*: (.*)/\1/p' /proc/cpuinfo | head -1)
machine="$(nproc) cores, ${cpu:-unknown CPU}, $(rustc --version), $("$nats_bin" --version 2>/dev/null || echo 'nats-server: not found')"

echo "### Per event (criterion medians)"
echo
echo "| operation | direct | sim bus | live NATS | sim / direct | live / direct |"
echo "|---|---|---|---|---|---|"
for kind in chat join leave high_water status; do
  d=$(per_element "bot_event_cost/direct/$kind")
  s=$(per_element "bot_event_cost/sim/$kind")
  l=$(per_element "bot_event_cost/live/$kind")
  label="${kind/high_water/high water}"
  [ "$kind" = chat ] && label="chat line"
  echo "| bot-side cost: $label | $(t "$d") | $(t "$s") | $(t "$l") | $(ratio "$s" "$d") | $(ratio "$l" "$d") |"
done
ed=$(per_element end_to_end/direct/chat)
es=$(per_element end_to_end/sim/chat)
el=$(per_element end_to_end/live/chat)
echo "| end to end: chat line in, row committed | $(t "$ed") ($(rate "$ed")) | $(t "$es") ($(rate "$es")) | $(t "$el") ($(rate "$el")) | $(ratio "$es" "$ed") | $(ratio "$el" "$ed") |"
echo

echo "### db-service ingest, file database (store side: decode + apply + commit)"
echo
echo "| commit mode | per event | events/s | vs v0.5.0 |"
echo "|---|---|---|---|"
ig=$(per_element ingest/group_commit_wal)
iw=$(per_element ingest/per_event_wal)
iv=$(per_element ingest/per_event_v05_journal)
echo "| group commit, WAL (batches of 1,024, as DbService) | $(t "$ig") | $(rate "$ig") | $(ratio "$iv" "$ig") faster |"
echo "| one commit per event, WAL | $(t "$iw") | $(rate "$iw") | $(ratio "$iv" "$iw") faster |"
echo "| one commit per event, v0.5.0 journal (DELETE, synchronous=FULL) | $(t "$iv") | $(rate "$iv") | 1x |"
ipg=$(per_element ingest/group_commit_postgres)
ipe=$(per_element ingest/per_event_postgres)
echo "| PostgreSQL, group commit (held lines as two unnest statements per batch) | $(t "$ipg") | $(rate "$ipg") | $(ratio "$iv" "$ipg") faster; $(ratio "$ig" "$ipg") of SQLite's |"
echo "| PostgreSQL, one commit per event | $(t "$ipe") | $(rate "$ipe") | $(ratio "$iv" "$ipe") faster; $(ratio "$iw" "$ipe") of SQLite's |"
echo

echo "### outbound.get request/reply"
echo
echo "| load | raw NATS echo (floor) | live NATS, SQLite | live NATS, PostgreSQL | sim bus (wall cost of simulating) | live / raw |"
echo "|---|---|---|---|---|---|"
for load in idle burst; do
  label="$load"
  [ "$load" = burst ] && label="burst (50,000 chat lines/s)"
  rm_=$(median_ns "outbound_get/raw_nats/$load")
  lm=$(median_ns "outbound_get/live/$load")
  pm=$(median_ns "outbound_get/live_postgres/$load")
  sm=$(median_ns "outbound_get/sim/$load")
  echo "| $label: criterion median | $(t "$rm_") | $(t "$lm") | $(t "$pm") | $(t "$sm") | $(ratio "$lm" "$rm_") |"
  for p in p50 p99; do
    r=$(pct "raw_nats_$load" "${p}_ns"); l=$(pct "live_$load" "${p}_ns"); g=$(pct "live_postgres_$load" "${p}_ns"); s=$(pct "sim_$load" "${p}_ns")
    echo "| $label: $p | $(t "$r") | $(t "$l") | $(t "$g") | $(t "$s") | $(ratio "$l" "$r") |"
  done
  r=$(pct "raw_nats_$load" p999_ns); l=$(pct "live_$load" p999_ns); g=$(pct "live_postgres_$load" p999_ns); s=$(pct "sim_$load" p999_ns)
  rx=$(pct "raw_nats_$load" max_ns); lx=$(pct "live_$load" max_ns); gx=$(pct "live_postgres_$load" max_ns); sx=$(pct "sim_$load" max_ns)
  echo "| $label: p99.9 / max | $(t "$r") / $(t "$rx") | $(t "$l") / $(t "$lx") | $(t "$g") / $(t "$gx") | $(t "$s") / $(t "$sx") | |"
done
echo

echo "### Goals"
echo
echo "| goal | measured | |"
echo "|---|---|---|"
lc=$(per_element bot_event_cost/live/chat)
dc=$(per_element bot_event_cost/direct/chat)
echo "| bot-side cost of a chat line on the live bus <= 1/5 of a direct SQLite write | $(ratio "$lc" "$dc") ($(t "$lc") vs $(t "$dc")) | $(verdict "$(awk -v a="$lc" -v b="$dc" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else print a / b }')" 0.2) |"
echo "| live ingest >= 200,000 chat events/s end to end | $(rate "$el") | $(verdict "$el" 5000) |"
bp99=$(pct live_burst p99_ns)
echo "| outbound.get p99 < 5 ms during a 50,000 events/s burst | $(t "$bp99") | $(verdict "$bp99" 5000000) |"
lp50=$(pct live_idle p50_ns); rp50=$(pct raw_nats_idle p50_ns)
echo "| outbound.get idle p50 within 1.5x of raw NATS request/reply | $(ratio "$lp50" "$rp50") ($(t "$lp50") vs $(t "$rp50")) | $(verdict "$(awk -v a="$lp50" -v b="$rp50" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else print a / b }')" 1.5) |"
echo "| sim bus end-to-end cost within 2x of direct | $(ratio "$es" "$ed") | $(verdict "$(awk -v a="$es" -v b="$ed" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else print a / b }')" 2) |"
echo
echo "Machine: $machine. \`cargo bench\` wall time: $wall."
