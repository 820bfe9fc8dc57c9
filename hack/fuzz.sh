#!/usr/bin/env bash
# Coverage-guided fuzzing of one target in fuzz/ on stable Rust.
#
#   hack/fuzz.sh <target> [seconds] [libFuzzer flags...]   e.g. hack/fuzz.sh error_body 300
#
# Sanitizers such as AddressSanitizer are -Z flags, nightly only. The coverage
# instrumentation libFuzzer steers by is not: it is LLVM's SanitizerCoverage pass, reached
# with stable -C flags. So this builds the target with those flags (no sanitizer, which
# safe Rust needs least) and runs the libFuzzer binary itself; it needs nothing but cargo
# and a C++ compiler for libfuzzer-sys. (`cargo fuzz run --sanitizer none <target>` does
# the same on stable, once `cargo install cargo-fuzz`.)
#
# New inputs go to fuzz/target/corpus/<target> (not committed); fuzz/corpus/<target> is the
# committed seed corpus, only read. Crashes land in fuzz/artifacts/<target>/. To keep new
# finds, minimise them into the seeds with
#   fuzz/target/hack/<host>/release/<target> -merge=1 corpus/<target> target/corpus/<target>
# run inside fuzz/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

target=${1:?usage: hack/fuzz.sh <target> [seconds] [libFuzzer flags...]}
seconds=${2:-60}
shift $(($# < 2 ? $# : 2))

host=$(rustc -vV | sed -n 's/^host: //p')
flags=(
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    -Cllvm-args=-sanitizer-coverage-stack-depth
    # Keeps branches apart, so coverage sees each (as cargo-fuzz does).
    -Cllvm-args=-simplifycfg-branch-fold-threshold=0
    --cfg fuzzing
    # A release build would otherwise wrap on overflow and skip debug_assert!s silently.
    -Cdebug-assertions
    -Coverflow-checks
)
export RUSTFLAGS="${flags[*]}"
# Not cargo-fuzz's fuzz/target/<host>: other flags there would rebuild everything each time
# one tool follows the other.
export CARGO_TARGET_DIR="$PWD/target/hack"
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros: instrumented, they
# would need libFuzzer's coverage symbols, which only the fuzz binary links.
cargo build --locked --release --target "$host" --bin "$target"

mkdir -p "target/corpus/$target" "artifacts/$target"
exec "$CARGO_TARGET_DIR/$host/release/$target" \
    "target/corpus/$target" "corpus/$target" \
    -dict=dict/json.dict \
    -artifact_prefix="artifacts/$target/" \
    -max_total_time="$seconds" \
    -timeout=10 \
    -print_final_stats=1 \
    "$@"
