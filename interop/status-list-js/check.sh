#!/usr/bin/env bash
# The CLI creates a 2-bit status list; @sd-jwt/jwt-status-list (an independent Token Status
# List implementation, with Node's crypto for the ES256 signature) must decode its JWT form to
# the statuses eid set, and `eid status-list read` must report the same.
# Usage: check.sh PATH/TO/eid
set -euo pipefail
eid="$1"
here="$(cd "$(dirname "$0")" && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

uri=https://eid.example.cn/status/4501/0
indices=0,1,7,1993,65536,131071
"$eid" pki init --out "$work/pki" >/dev/null
"$eid" status-list create --bits 2 --size 131072 \
  --set 0=invalid,7=suspended,1993=1,65536=3,131071=suspended \
  --pki "$work/pki" --uri "$uri" --ttl 300 --format jwt --out "$work/list.jwt"

theirs=$(node "$here/read.mjs" "$work/list.jwt" "$indices")
expected='{"typ":"statuslist+jwt","sub":"'"$uri"'","bits":2,"statuses":{"0":1,"1":0,"7":2,"1993":1,"65536":3,"131071":2}}'
if [ "$theirs" != "$expected" ]; then
  echo "sd-jwt-js read: $theirs"
  echo "expected:       $expected"
  exit 1
fi
ours=$("$eid" status-list read "$work/list.jwt" --trust "$work/pki/iaca.pem" --uri "$uri" --index "$indices" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);
    console.log(JSON.stringify(Object.fromEntries(r.statuses.map(e=>[e.index,e.status]))))})')
if [ "$ours" != '{"0":1,"1":0,"7":2,"1993":1,"65536":3,"131071":2}' ]; then
  echo "eid read: $ours"
  exit 1
fi
echo "status list: @sd-jwt/jwt-status-list 0.19.0 and eid read the same 6 statuses from eid's 2-bit JWT"
