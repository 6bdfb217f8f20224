#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 30) from its committed corpus (Fuzz/corpus/TARGET), built with
# swiftc -sanitize=fuzzer,address from the sources it exercises (manifest-yaml also from Yams and libyaml, as
# modules of their own, from the package's checkout). Prints executions per target; a crash, hang or
# sanitizer report fails the run and leaves its input in Fuzz/crashes/TARGET (make it a regression test).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
work=$(mktemp -d /tmp/veem-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
declare -A sources=(
  [vmi-envelope]="Sources/VMI/*.swift"
  [ec2-query-form]="Sources/EC2/QueryForm.swift Sources/EC2/EC2Error.swift"
  [sigv4-header]="Sources/EC2/SigV4+Header.swift Sources/EC2/QueryForm.swift Sources/EC2/EC2Error.swift"
  [manifest-expression]="Sources/Manifest/Statement.swift Sources/Manifest/Expression.swift Sources/Manifest/ExpressionParser.swift Sources/Manifest/ManifestProblem.swift"
  [manifest-yaml]="Sources/Manifest/*.swift"
)
declare -A flags=([manifest-yaml]="-I $work/modules $work/modules/*.o")

# Yams (and libyaml under it) and VMI, which the manifest parser imports, instrumented like the targets.
yams=.build/checkouts/Yams/Sources
[[ -d $yams ]] || swift package resolve >/dev/null
mkdir -p "$work/modules"
yaml_map=(-Xcc "-fmodule-map-file=$yams/CYaml/include/module.modulemap" -Xcc "-I$yams/CYaml/include"
          -Xcc -DYAML_DECLARE_EXPORT)
for c in "$yams"/CYaml/src/*.c; do
  clang -c -O1 -fsanitize=fuzzer-no-link,address -DYAML_DECLARE_EXPORT -I "$yams/CYaml/include" "$c" \
    -o "$work/modules/yaml-$(basename "$c" .c).o"
done
module() {
  local name=$1; shift
  swiftc -sanitize=fuzzer,address -parse-as-library -wmo -module-name "$name" -emit-module \
    -emit-module-path "$work/modules/$name.swiftmodule" -c -o "$work/modules/$name.o" "$@" \
    2> "$work/$name.build" || { cat "$work/$name.build" >&2; exit 1; }
}
module Yams -D SWIFT_PACKAGE "${yaml_map[@]}" "$yams"/Yams/*.swift
module VMI Sources/VMI/*.swift
flags[manifest-yaml]+=" -Xcc -fmodule-map-file=$yams/CYaml/include/module.modulemap"

status=0
for target in vmi-envelope ec2-query-form sigv4-header manifest-expression manifest-yaml; do
  # shellcheck disable=SC2086
  swiftc -sanitize=fuzzer,address -parse-as-library -module-name "fuzz_${target//-/_}" \
    ${sources[$target]} "Fuzz/Targets/$target.swift" ${flags[$target]:-} -o "$work/$target" \
    2> "$work/$target.build" || { cat "$work/$target.build" >&2; exit 1; }
  mkdir -p "$work/corpus-$target" "Fuzz/crashes/$target"
  cp Fuzz/corpus/"$target"/* "$work/corpus-$target/"
  if ASAN_OPTIONS=detect_leaks=0 "$work/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
       -print_final_stats=1 -artifact_prefix="Fuzz/crashes/$target/" "$work/corpus-$target" > "$work/$target.log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log" | grep -o '[0-9]*$')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$work/$target.log" | grep -o '[0-9]*$')
    echo "fuzz $target: $runs executions in ${seconds}s ($rate/s), no crash"
  else
    echo "fuzz $target: FAILED; input kept in Fuzz/crashes/$target" >&2
    tail -40 "$work/$target.log" >&2
    status=1
  fi
done
exit $status
