#!/usr/bin/env bash
# The conformance bar of issue 14: `bash test/conformance.sh` runs test/integration/conformance.test.ts
# (each behaviour against runc 1.1.5 and tsrun, side by side) and prints the table and the totals
# "runc: N/M hold, tsrun: N/M hold". Must be run as root; builds bin/tsrun first when it is missing.
#
# Exit status: 0 when tsrun holds wherever runc holds (and where runc lacks a behaviour the issue asks
# for, tsrun holds it); 1 when tsrun falls short on any scenario; 2 when the bar itself is broken (no
# results, runc failing a scenario it must hold, or something left behind) so that it proves nothing.
# The jest output is kept in a file named on stderr when the exit status is not 0.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
  echo "conformance: runs containers with runc and tsrun: must be run as root" >&2
  exit 2
fi
if [ ! -x bin/tsrun ] || [ ! -x bin/tsrun-init ]; then
  npm run build >&2
fi
if [ ! -x bundles/busybox/rootfs/bin/busybox ]; then
  bundles/build-all.sh >&2
fi

out=$(mktemp -d /tmp/tsrun-conformance.XXXXXX)
results=$out/results.json
set +e
# tini -s: a subreaper for the inits orphaned by create (this machine's PID 1 reaps nothing).
CONFORMANCE_RESULTS=$results tini -s -g -- node --experimental-vm-modules node_modules/jest/bin/jest.js \
  --forceExit test/integration/conformance.test.ts >"$out/jest.log" 2>&1
jest_rc=$?
set -e

# Print the table and decide the status from the rows the test file wrote.
set +e
node -e '
  const fs = require("node:fs");
  let r;
  try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); }
  catch { console.error("conformance: the test file wrote no results"); process.exit(2); }
  process.stdout.write(r.table);
  const counted = r.rows.filter((x) => !x.notHere);
  const short = counted.filter((x) => !x.tsrun?.holds && (x.lacksInRunc || x.runc?.holds));
  const broken = counted.filter((x) => !x.lacksInRunc && !x.runc?.holds);
  for (const l of r.leaks) console.error(`conformance: left behind: ${l}`);
  if (broken.length) console.error(`conformance: runc fails ${broken.length} scenario(s) it must hold: the bar is unproven there`);
  if (short.length) console.error(`conformance: tsrun falls short on ${short.length} of ${counted.length} scenario(s)`);
  process.exit(short.length ? 1 : broken.length || r.leaks.length ? 2 : 0);
' "$results"
rc=$?
set -e

if [ "$rc" -eq 0 ] && [ "$jest_rc" -ne 0 ]; then
  echo "conformance: jest failed although every scenario holds" >&2
  rc=2
fi
if [ "$rc" -eq 0 ]; then
  rm -rf "$out"
else
  echo "conformance: jest output in $out/jest.log" >&2
fi
exit "$rc"
