# tests/lib.sh: helpers sourced by the command-line tests. Each script sets
# fail=0 first and exits with $fail.

# expect_fail REGEX OUT CMD...: CMD must exit non-zero, print REGEX (extended)
# on stderr and leave neither OUT nor OUT.tmp (OUT may be "").
expect_fail() {
    local want=$1 out=$2; shift 2
    [ -n "$out" ] && rm -f "$out" "$out.tmp"
    timeout -k 5 120 "$@" > stdout.txt 2> stderr.txt
    local rc=$?
    if [ $rc -eq 0 ]; then echo "FAIL (exit 0): $*"; fail=1; return 1; fi
    if ! grep -Eq -- "$want" stderr.txt; then
        echo "FAIL (message): $* -- wanted /$want/, got:"; cat stderr.txt; fail=1; return 1
    fi
    if [ -n "$out" ] && { [ -e "$out" ] || [ -e "$out.tmp" ]; }; then
        echo "FAIL (output left behind): $*"; fail=1; return 1
    fi
    echo "ok: $(grep -Eo -- "$want" stderr.txt | head -1)"
}

# descendants PID: every process below PID (children, grandchildren, ...).
descendants() {
    local c
    for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done
}

# signal_ranks SIG PID: send SIG to the hydrobridge processes started under
# PID (a job of this script), never to anyone else's.
signal_ranks() {
    local sig=$1 p pids=()
    for p in $(descendants "$2"); do
        [ "$(cat /proc/$p/comm 2> /dev/null)" = hydrobridge ] && pids+=("$p")
    done
    [ ${#pids[@]} -gt 0 ] && kill -"$sig" "${pids[@]}" 2> /dev/null
    return 0
}

# loglike_ranks LABEL HB ARGS...: `loglike ARGS` on 1 and 2 ranks (logs LABEL1.log,
# LABEL2.log) must give the same log p to 1e-5 (relative); sets fail=1 otherwise.
loglike_ranks() {
    local label=$1 hb=$2 np l1 l2; shift 2
    for np in 1 2; do
        timeout -k 5 300 mpirun -np $np "$hb" loglike "$@" > $label$np.log 2>&1 \
            || { echo "FAIL: $label: loglike on $np ranks"; tail -5 $label$np.log; fail=1; }
    done
    l1=$(grep -Eo 'result: logp=[-0-9.e+]+' $label"1.log" | cut -d= -f2)
    l2=$(grep -Eo 'result: logp=[-0-9.e+]+' $label"2.log" | cut -d= -f2)
    if [ -n "$l1" ] && awk -v a="$l1" -v b="$l2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * (a < 0 ? -a : a)) }'; then
        echo "ok: $label: loglike $l1 (1 rank) and $l2 (2 ranks)"
    else
        echo "FAIL: $label: loglike on 1 and 2 ranks: '$l1' vs '$l2'"; fail=1
    fi
}

# wait_for_line FILE REGEX [TRIES]: poll (50 ms) until FILE holds REGEX.
wait_for_line() {
    local i
    for i in $(seq 1 "${3:-1200}"); do grep -Eq "$2" "$1" 2> /dev/null && return 0; sleep 0.05; done
    return 1
}
