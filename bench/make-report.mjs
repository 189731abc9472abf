#!/usr/bin/env node
// Reads the raw measurements of one bench run and writes bench/results/latest.{json,md,svg}, then
// prints the table. Called by bench/bench.sh; can be re-run on a kept raw directory:
//   node bench/make-report.mjs RAW_DIR [OUT_DIR]
// RAW_DIR holds meta.json (date, runs, load at start, versions, machine), measure.py alternate outputs
// <figure>.alt.json (per runtime, and "floor": time and peak RSS of each call), hyperfine exports
// <figure>.json (podman), measure.py outputs <figure>.<runtime>.json and burst.json. The previous latest.json, if any, is the baseline of the
// "no regression" rows. A full run (not --quick) into the default OUT_DIR also puts the table in
// README.md, between its bench-table markers.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FIGURES, RUNTIMES, buildReport, burstSamples, formatMarkdown, formatTable, formatTargets, renderSvg, samplesFromHyperfine, withBenchTable } from "./report.mjs";

const raw = process.argv[2];
const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[3] ?? join(here, "results");
if (!raw) {
  console.error("usage: make-report.mjs RAW_DIR [OUT_DIR]");
  process.exit(2);
}
const readJson = (p) => JSON.parse(readFileSync(p, "utf8"));

const samples = {};
const failures = {};
const processes = {};
const files = readdirSync(raw);
for (const fig of FIGURES) {
  if (files.includes(`${fig.key}.json`)) samples[fig.key] = samplesFromHyperfine(readJson(join(raw, `${fig.key}.json`)));
  for (const rt of RUNTIMES) {
    const f = `${fig.key}.${rt}.json`;
    if (!files.includes(f)) continue;
    const m = readJson(join(raw, f));
    (samples[fig.key] ??= {})[rt] = m.samples;
    if (m.failures) (failures[fig.key] ??= {})[rt] = m.failures;
  }
}
// measure.py alternate: per case (a runtime or the floor) the times, and the peak RSS of each call.
for (const fig of FIGURES) {
  const f = `${fig.key}.alt.json`;
  if (!files.includes(f)) continue;
  for (const [rt, m] of Object.entries(readJson(join(raw, f)))) {
    (samples[fig.key] ??= {})[rt] = m.samples;
    // One `state` call's peak RSS, and the floor's, from the same rounds.
    if (fig.key === "state") (samples.peakRssState ??= {})[rt] = m.rss;
  }
}
// The floor's peak RSS is the baseline of create's too.
if (samples.peakRssState?.floor && samples.peakRssCreate) samples.peakRssCreate.floor = samples.peakRssState.floor;
// measure.py burst: per runtime, creates per second per round, and the latency quantiles of each round.
if (files.includes("burst.json")) {
  for (const [rt, m] of Object.entries(readJson(join(raw, "burst.json")))) {
    const b = burstSamples(m);
    for (const [key, v] of Object.entries(b.samples)) (samples[key] ??= {})[rt] = v;
    if (b.failures) (failures.burstRate ??= {})[rt] = b.failures;
  }
}
// measure.py held: one file per runtime with both RSS and PSS.
for (const rt of RUNTIMES) {
  const f = `held.${rt}.json`;
  if (!files.includes(f)) continue;
  const h = readJson(join(raw, f));
  (samples.heldRss ??= {})[rt] = h.rss;
  (samples.heldPss ??= {})[rt] = h.pss;
  processes[rt] = h.processes;
}

const meta = readJson(join(raw, "meta.json"));
const cpuModel = cpus()[0]?.model ?? "unknown cpu";
const latest = join(out, "latest.json");
const previous = existsSync(latest) ? readJson(latest) : undefined;
const report = buildReport({
  meta: {
    ...meta,
    kernel: release(),
    cpu: cpuModel,
    cores: cpus().length,
    loadavg: { start: meta.loadStart, end: loadavg()[0].toFixed(2) },
    heldProcesses: processes,
  },
  samples,
  failures,
  previous,
});
delete report.loadStart;

mkdirSync(out, { recursive: true });
writeFileSync(latest, JSON.stringify(report, null, 2) + "\n");
const markdown = formatMarkdown(report);
writeFileSync(join(out, "latest.md"), markdown);
const readme = join(here, "..", "README.md");
if (!report.quick && out === join(here, "results") && existsSync(readme)) {
  const text = readFileSync(readme, "utf8");
  const updated = withBenchTable(text, markdown);
  if (updated !== text) writeFileSync(readme, updated);
}
writeFileSync(join(out, "latest.svg"), renderSvg(report));
process.stdout.write("\n" + formatTable(report) + "\n" + formatTargets(report));
process.stdout.write(`\nprocesses held per created container: ${RUNTIMES.filter((r) => processes[r]).map((r) => `${r}: ${processes[r].join(", ")}`).join("; ")}\n`);
process.stdout.write(`written: ${latest}, latest.md, latest.svg\n`);
