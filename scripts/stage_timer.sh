# Sourced by test.sh and serve.sh: `stage NAME` ends the running stage (printing its time and the total so far)
# and starts NAME; `stage ""` ends the last one.
started=$SECONDS
stage_started=$SECONDS
stage_name=''
stage() {
  local now=$SECONDS
  [ -n "$stage_name" ] &&
    printf '== %s: %d s (total %d s) ==\n' "$stage_name" $((now - stage_started)) $((now - started))
  stage_name=$1
  stage_started=$now
  [ -n "$stage_name" ] && echo "== $stage_name =="
  return 0
}
