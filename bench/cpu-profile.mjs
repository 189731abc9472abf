#!/usr/bin/env node
// Sums Bun CPU profiles (.cpuprofile files) per function: self and total time per run, most first.
//   BUN_OPTIONS="--cpu-prof --cpu-prof-interval=25 --cpu-prof-dir=DIR" bin/tsrun ...   (repeat a few times)
//   node bench/cpu-profile.mjs DIR [N]
// Build the CLI without identifier minification to read the names (bench/results/breakdown.md, round 2).
import fs from "node:fs";

if (!process.argv[2]) {
  console.error("usage: cpu-profile.mjs DIR [N]");
  process.exit(2);
}
const dir = process.argv[2];
const self = new Map(), total = new Map();
let sum = 0, n = 0;
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))) {
  const p = JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8"));
  n++;
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const dts = p.timeDeltas;
  p.samples.forEach((id, i) => {
    const dt = (dts[i + 1] ?? 0) / 1000;
    sum += dt;
    const nd = byId.get(id);
    const key = (x) => `${x.callFrame.functionName || "(anon)"} ${x.callFrame.url.replace(/.*\//, "")}:${x.callFrame.lineNumber}`;
    self.set(key(nd), (self.get(key(nd)) ?? 0) + dt);
    const seen = new Set();
    for (let c = id; c !== undefined; c = parent.get(c)) { const k = key(byId.get(c)); if (!seen.has(k)) { seen.add(k); total.set(k, (total.get(k) ?? 0) + dt); } }
  });
}
const show = (m, title) => { console.log(`== ${title} (ms per run)`); [...m].sort((a, b) => b[1] - a[1]).slice(0, +process.argv[3] || 25).forEach(([k, v]) => console.log((v / n).toFixed(3).padStart(8), k)); };
console.log("runs", n, "sampled ms per run", (sum / n).toFixed(2));
show(self, "self"); show(total, "total");
