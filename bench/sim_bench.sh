#!/usr/bin/env bash
# sim_bench.sh - how many meters one `wattkeeper sim` process sustains at a 1-minute report
# interval. Starts a private mosquitto on a free loopback port, runs the sim with one MQTT
# connection per meter (and once in gateway mode) at a speed-up, and reports wall time,
# CPU time (user+sys), max RSS, frames and whether simulated time kept up. From the CPU
# seconds per simulated meter-minute it derives how many meters one core sustains in real
# time (speed 1). Usage: bench/sim_bench.sh [BUILD_DIR] (default build/dev).
#   WK_BENCH_METERS="1000 3000 6000"   fleet sizes, one MQTT connection per meter (each
#                                      needs 3 file descriptors: hard limit / 3 at most)
#   WK_BENCH_GATEWAY_METERS=50000       fleet size of the gateway-mode run (500 per conn.)
#   WK_BENCH_SIM_SECONDS=600            simulated seconds per run
#   WK_BENCH_SPEED=60                   simulated seconds per wall second
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/dev}/wattkeeper
sizes=${WK_BENCH_METERS:-"1000 3000 6000"}
gw_meters=${WK_BENCH_GATEWAY_METERS:-50000}
simsec=${WK_BENCH_SIM_SECONDS:-600}
speed=${WK_BENCH_SPEED:-60}
work=$(mktemp -d)
broker=
cleanup() { [ -n "$broker" ] && kill "$broker" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\n' "$port" >"$work/m.conf"
mosquitto -c "$work/m.conf" 2>"$work/broker.log" &
broker=$!
sleep 0.5
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), mosquitto $(mosquitto -h 2>/dev/null | head -1 | awk '{print $3}')"
printf '%-7s %-8s %5s %7s %7s %7s %9s %9s %6s %8s %14s\n' meters mode speed wall_s cpu_s rss_MB frames acked kept broker_s "meters/core@1x"
broker_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$broker/stat"; }
run() { # run METERS MODE EXTRA...
  local n=$1 mode=$2 sp=$3; shift 3
  local b0; b0=$(broker_cpu)
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$bin" sim --broker "127.0.0.1:$port" \
    --meters "$n" --speed "$sp" --interval 60 --duration "$simsec" --seed 1 "$@" >"$work/out" 2>&1 ||
    { echo "run of $n meters failed:"; cat "$work/out"; return 0; }
  read -r wall user sys rss <"$work/time"
  local bcpu; bcpu=$(python3 -c "print(f'{$(broker_cpu) - $b0:.2f}')")
  local acked; acked=$(grep -o 'acked=[0-9]*' "$work/out" | cut -d= -f2)
  local frames; frames=$(grep -o 'frames_out=[0-9]*' "$work/out" | cut -d= -f2)
  local simw; simw=$(grep -o 'wall_seconds=[0-9.]*' "$work/out" | cut -d= -f2)
  local expect; expect=$(python3 -c "print(f'{$simsec/$sp:.2f}')")
  # kept up if the simulated part took no more than 10 % longer than simulated/speed
  local ok; ok=$(python3 -c "print('yes' if $simw <= 1.1*$expect else 'no')")
  # CPU seconds per simulated meter-minute -> meters one core carries at speed 1
  local cap; cap=$(python3 -c "cpu=$user+$sys; mm=$n*$simsec/60; print(int(60/(cpu/mm)) if cpu>0 else 0)")
  printf '%-7s %-8s %5s %7s %7.2f %7.1f %9s %9s %6s %8s %14s\n' "$n" "$mode" "$sp" "$wall" \
    "$(python3 -c "print($user+$sys)")" "$(python3 -c "print($rss/1024)")" "$frames" "$acked" "$ok" "$bcpu" "$cap"
}
for n in $sizes; do run "$n" client "$speed"; done
# gateway mode: 500 meters per connection, at a tenth of the speed (same frames/s order)
run "$gw_meters" gateway $((speed / 10 > 0 ? speed / 10 : 1)) --gateway 500
