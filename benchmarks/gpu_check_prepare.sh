#!/usr/bin/env bash
# Builds the two folders the GPU check carries to the device (see benchmarks/gpu_check.md):
#
#   .whl/       a wheel of automask built from the working tree as the device receives it, and
#               wheels of the dependencies the device lacks (all pure Python, py3-none-any);
#   .devcache/  a minimal AUTOMASK_CACHE_DIR: the SmolLM2 tokenizer folder and vocabulary.
#
# Both are ignored through .git/info/exclude (/.whl/, /.devcache/).  Rebuild right before the
# device run: the wheel is a snapshot of the tree, and the tests import the wheel, not the tree.
#
#   bash benchmarks/gpu_check_prepare.sh        # PYTHON=... and AUTOMASK_CACHE_DIR=... override
set -euo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
python=${PYTHON:-$root/.venv/bin/python}
cache=${AUTOMASK_CACHE_DIR:-$HOME/.cache/automask}
deps=(lark==1.3.1 interegular==0.3.3 gguf==0.19.0 platformdirs==4.14.8)

for needed in "$cache/tokenizers/smollm2-0.1.0/tokenizer.json" "$cache/vocabularies/smollm2-0.1.0.npz"; do
    if [ ! -f "$needed" ]; then
        echo "missing $needed: run \"$python -c 'import automask; automask.load_vocabulary(\\\"smollm2\\\")'\" first" >&2
        exit 1
    fi
done

rm -rf "$root/.whl" "$root/.devcache"
mkdir -p "$root/.whl" "$root/.devcache/tokenizers" "$root/.devcache/vocabularies"

# The wheel is built from a copy of what the device gets (tracked files plus untracked ones git
# does not ignore), so no stale build/ folder or ignored file can slip into it.
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
(
    cd "$root"
    git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
        if [ -f "$file" ]; then cp --parents -- "$file" "$src/"; fi
    done
)
"$python" -m pip wheel -q --no-deps --no-build-isolation -w "$root/.whl" "$src"
"$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$root/.whl" "${deps[@]}"

cp -r "$cache/tokenizers/smollm2-0.1.0" "$root/.devcache/tokenizers/"
cp "$cache/vocabularies/smollm2-0.1.0.npz" "$root/.devcache/vocabularies/"

ls -l "$root/.whl"
du -sh "$root/.whl" "$root/.devcache"
tracked=$(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carried=$(du -sb "$root/.whl" "$root/.devcache" | awk '{s += $1} END {print s}')
echo "tree $tracked B + carried $carried B = $((tracked + carried)) B (limit 67108864)"
