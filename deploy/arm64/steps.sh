# Sourced by deploy/arm64/test.sh and inner.sh: timed steps and what they found, in files under $RUN that
# both processes append to, and the lines printed at the end.
#   $RUN/steps  "name wall-seconds cpu-seconds" per finished step, in order
#   $RUN/facts  "text" per finding, for the summary line
# CPU seconds are those of the step's processes (user + system): on a machine whose cores other work
# shares, they say more about what a step costs than its wall time does.

T0=${T0:-$SECONDS}
CLK_TCK=$(getconf CLK_TCK)

say() { echo "test-arm64: $*"; }

fact() { echo "$*" >>"$RUN/facts"; }

# TICKS: CPU time, in clock ticks, of this shell's children that have ended (fields cutime and cstime
# of /proc/self/stat, which the shell itself opens here: not in a $(...) subshell, whose count is its own).
children_ticks() {
    local stat
    read -r stat </proc/self/stat
    set -- ${stat##*) }
    TICKS=$((${14} + ${15}))
}

# step NAME COMMAND...: run it, print and keep its times; a failure ends the run naming the step.
step() {
    local name=$1 start=$SECONDS ticks rc=0 wall cpu
    shift
    children_ticks
    ticks=$TICKS
    say "$name ..."
    "$@" || rc=$?
    wall=$((SECONDS - start))
    children_ticks
    cpu=$(((TICKS - ticks) / CLK_TCK))
    echo "$name $wall $cpu" >>"$RUN/steps"
    say "$name: $wall s (cpu $cpu s)$([ "$rc" = 0 ] || echo ", exit $rc")"
    [ "$rc" = 0 ] || fail "step $name failed (exit $rc)"
}

report() {
    [ -f "$RUN/steps" ] || return 0
    say "step times (wall s, cpu s):"
    while read -r name wall cpu; do printf '  %-14s %5d %5d\n' "$name" "$wall" "${cpu:-0}"; done <"$RUN/steps"
}

joined_facts() { [ -f "$RUN/facts" ] && paste -sd';' "$RUN/facts" | sed 's/;/; /g'; }

fail() {
    if [ -n "${ARM64_INNER:-}" ]; then say "$*" >&2; exit 1; fi  # the host side reports
    report
    say "FAILED after $((SECONDS - T0)) s: $* [$(joined_facts)]" >&2
    exit 1
}

summary() {
    report
    say "passed in $((SECONDS - T0)) s: $(joined_facts)"
}
