#!/bin/sh
# TEST DOUBLE for model text, used by `hive eval --explorer/--critic` in the cognition benchmark and tests.
#
# An oracle that errs on purpose: it is handed the truth (HIVE_EVAL_ANSWER for arithmetic, HIVE_EVAL_FAMILY for
# code tasks) and answers right with probability P, independently per call. With probability CORR a task is a
# trap for every call alike (a shared misconception: they all answer truth + 1), so errors are correlated and no
# number of voters gets past 1 - CORR. Independent wrong answers scatter around the truth. As a critic (--critic)
# it reads the candidate from the rendered critique prompt and judges it correctly with probability Q.
# Draws are seeded by task, round, candidate/critic index and --seed, so runs repeat. --latency-ms stands in for
# the time a model call takes. No model could be run thousands of times here; this stands in for its answers.
P=0.7 ARBITER_P="" CORR=0 Q=0.9 CRITIC=0 LATENCY=0 ARBITER_LATENCY="" SEED=1
while [ $# -gt 0 ]; do
  case "$1" in
    --p) P=$2; shift ;;
    --arbiter-p) ARBITER_P=$2; shift ;;
    --corr) CORR=$2; shift ;;
    --q) Q=$2; shift ;;
    --critic) CRITIC=1 ;;
    --latency-ms) LATENCY=$2; shift ;;
    --arbiter-latency-ms) ARBITER_LATENCY=$2; shift ;;
    --seed) SEED=$2; shift ;;
    *) echo "oracle_model: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# Re-fork rounds may run on a stronger, slower model (escalation to the core tier).
if [ "${HIVE_ROUND:-0}" -gt 0 ]; then
  [ -n "$ARBITER_P" ] && P=$ARBITER_P
  [ -n "$ARBITER_LATENCY" ] && LATENCY=$ARBITER_LATENCY
fi
[ "$LATENCY" -gt 0 ] && sleep "$(awk -v ms="$LATENCY" 'BEGIN { printf "%.3f", ms / 1000 }')"
exec awk -v p="$P" -v corr="$CORR" -v q="$Q" -v critic="$CRITIC" -v seed="$SEED" \
  -v task="${HIVE_EVAL_TASK:-t}" -v round="${HIVE_ROUND:-0}" -v who="${HIVE_CANDIDATE:-0}/${HIVE_CRITIC:-0}" \
  -v answer="${HIVE_EVAL_ANSWER:-}" -v family="${HIVE_EVAL_FAMILY:-}" '
function hash(s,   i, h) {
  h = seed * 7919
  for (i = 1; i <= length(s); i++) h = (h * 31 + index(chars, substr(s, i, 1)) + 1) % 2147483629
  return h
}
function program(f, right) {
  if (f == "sum-range") return right ? "read a b; echo $(( (a + b) * (b - a + 1) / 2 ))" : "read a b; echo $(( (a + b) * (b - a) / 2 ))"
  if (f == "gcd") return right ? "read a b; while [ \"$b\" -ne 0 ]; do t=$((a % b)); a=$b; b=$t; done; echo $a" : "read a b; echo $(( a % b ))"
  if (f == "max") return right ? "read a b c d e; m=$a; for x in $b $c $d $e; do [ \"$x\" -gt \"$m\" ] && m=$x; done; echo $m" : "read a b c d e; echo $a"
  return right ? "read a; echo ${#a}" : "read a; echo $(( ${#a} + 1 ))"
}
BEGIN { chars = "abcdefghijklmnopqrstuvwxyz0123456789-_/. ABCDEFGHIJKLMNOPQRSTUVWXYZ" }
critic && /^Candidate:/ { grab = 1; next }
critic && grab && /^Score it/ { grab = 0 }
critic && grab { cand = cand $0 "\n" }
END {
  if (critic) {
    srand(hash(task "|" round "|" who "|" cand))
    if (answer != "") { match(cand, /-?[0-9]+/); good = (substr(cand, RSTART, RLENGTH) == answer) }
    else good = (index(cand, program(family, 1)) > 0)
    if (rand() >= q) good = !good
    if (good) printf "{\"score\": %d, \"reasons\": \"checks out\"}\n", 8 + int(rand() * 2)
    else printf "{\"score\": %d, \"reasons\": \"wrong: the result does not follow from the task\"}\n", 1 + int(rand() * 3)
    exit
  }
  srand(hash(task))
  trap = rand() < corr
  srand(hash(task "|" round "|" who))
  right = !trap && rand() < p
  if (family != "") { print program(family, right); exit }
  if (right) { print answer; exit }
  if (trap) { print answer + 1; exit }
  k = 0
  while (k == 0 || k == 1) k = int(rand() * 41) - 20
  print answer + k
}'
