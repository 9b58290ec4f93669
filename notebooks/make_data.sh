#!/usr/bin/env bash
# Regenerates notebooks/data/: the small result set the notebooks (and CI) run on.
# Usage: bash notebooks/make_data.sh   (from anywhere; needs cargo and python3)
# The binary is built in (and taken from) $CARGO_TARGET_DIR when that is set, else target/.
# See notebooks/data/README.md for what each folder holds.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
secsim="${CARGO_TARGET_DIR:-target}/release/secsim"
D=notebooks/data

# 1. capif-single, seeds 1..5, as shipped in experiments/ (explore_results.ipynb's default).
rm -rf "$D/capif-single"
"$secsim" run experiments/capif-single.ron --seeds 5 --out "$D/capif-single" --quiet

# 2. n32-ri-reject-encodings with the file's own seed list ([1]).
rm -rf "$D/n32-ri-reject-encodings"
"$secsim" run experiments/n32-ri-reject-encodings.ron --out "$D/n32-ri-reject-encodings" --quiet

# 3. Two FFS alternatives of seed 004 (how invokers learn of a method change), for
#    compare_ffs.ipynb: experiments/capif-mismatch-storm.ron on a 100-invoker topology, once
#    with recovery: ExplicitCause (the file's value) and once with TlsFailureOnly; plots off,
#    seeds 1..5. The edited experiment files and the topology are kept beside the results.
S="$D/capif-mismatch-storm-100"
mkdir -p "$S"
python3 scripts/gen_capif_storm.py 100 > "$S/capif-storm-100.ron"
for r in ExplicitCause TlsFailureOnly; do
    sed -e "s|name: \"capif-mismatch-storm\"|name: \"capif-mismatch-storm-100-$r\"|" \
        -e 's|"../topologies/capif-storm-1000.ron"|"capif-storm-100.ron"|' \
        -e "s|recovery: ExplicitCause|recovery: $r|" \
        -e 's|^    seeds: .*|&\n    outputs: (plots: false),|' \
        -e "1i // Written by notebooks/make_data.sh from experiments/capif-mismatch-storm.ron: 100 invokers\\n// (capif-storm-100.ron, scripts/gen_capif_storm.py 100), recovery: $r, plots off." \
        experiments/capif-mismatch-storm.ron > "$S/$r.ron"
    rm -rf "${S:?}/$r"
    "$secsim" run "$S/$r.ron" --seeds 5 --out "$S/$r" --quiet
    gzip -9n "$S/$r/records.csv"   # 2.8 MB -> 0.4 MB; pandas reads records.csv.gz as is
done

# The notebooks redraw the plots: ship only the CSV and JSON files.
find "$D" \( -name '*.png' -o -name '*.svg' \) -delete
du -sh "$D"
