# Sourced by the gpu_*.sh scripts (one device call each, run from the repository root): what they share.
#   out             where the JSON and logs go ($OUT on a device machine; /tmp/out elsewhere)
#   pip_target D W  install wheels W (carried in .whl/, no network) into folder D
#   copy_results    copy every result JSON written since this file was sourced to $out
#   has PART        whether PART is in $PARTS (default: $DEFAULT_PARTS, set before sourcing)
out=${OUT:-/tmp/out}
mkdir -p "$out"
gpu_started_mark=$(mktemp /tmp/gpu_started.XXXXXX)
pip_target() { python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$@"; }
copy_results() { find benchmarks/results -name '*.json' -newer "$gpu_started_mark" -exec cp {} "$out"/ \; ; }
has() { [[ " ${PARTS:-${DEFAULT_PARTS:-}} " == *" $1 "* ]]; }
