// The pure part of bench/: the figures of issue 20 with their targets, statistics over samples, the
// ratio/target evaluation, and the three renderings (text table, markdown table, SVG plot). No I/O:
// bench/make-report.mjs reads the raw measurements and writes what these functions return.
// Unit-tested in test/unit/bench-report.test.ts.

/** @typedef {{median: number, min: number, max: number, n: number, samples?: number[]}} Stats */
/**
 * @typedef {{key: string, label: string, unit: string, better: string, target: string, anchor: {runc: string, crun: string},
 *   results: Record<string, Stats>, ratios: {runc?: number, crun?: number, base?: number, floor?: number}, met: boolean|null,
 *   measured: string, note: string, failures?: Record<string, number>}} Row
 */
/** @typedef {Record<string, any> & {figures: Row[]}} Report */

/** The runtimes in table order; tsrun is compared with the others. "floor" is an empty Bun-compiled
 *  program (same Bun, same build flags as bin/tsrun), timed in the same alternating runs as the verbs:
 *  what any Bun CLI pays per call. "base" is tsrun built from an earlier commit (bench.sh --base),
 *  measured only when asked. */
export const RUNTIMES = ["tsrun", "floor", "runc", "crun", "base"];

/**
 * The rows of the issue's table. `better`: which way is good. `target`:
 *   { kind: "ratio", vs, max }        tsrun / vs must be <= max (lower is better); vs: runc, crun, floor
 *   { kind: "ratio-min", vs, min }    tsrun / vs must be >= min (higher is better)
 *   { kind: "max", value }            tsrun's median must be <= value (in the row's unit)
 *   { kind: "floor-plus", value }     tsrun's median must be <= the floor's median + value
 *   { kind: "no-regression", tolerance } tsrun's median <= previous run's median * (1 + tolerance)
 *   { kind: "report" }                no target
 * `anchor`: the issue's reference figures for runc and crun (issue 20's table, the current machine kind).
 * @type {{key: string, label: string, unit: string, better: "lower"|"higher", target: any, anchor: {runc: string, crun: string}}[]}
 */
export const FIGURES = [
  { key: "lifecycle", label: "create+start+wait+delete of /bin/true, new netns", unit: "ms", better: "lower", target: { kind: "ratio", vs: "runc", max: 1.0 }, anchor: { runc: "177", crun: "96.3" } },
  { key: "run", label: "run one-shot of the same", unit: "ms", better: "lower", target: { kind: "ratio", vs: "runc", max: 0.9 }, anchor: { runc: "-", crun: "-" } },
  { key: "state", label: "state (created container)", unit: "ms", better: "lower", target: { kind: "ratio", vs: "floor", max: 1.15 }, anchor: { runc: "24.5", crun: "14.0" } },
  { key: "kill", label: "kill KILL (created container)", unit: "ms", better: "lower", target: { kind: "ratio", vs: "floor", max: 1.15 }, anchor: { runc: "21.5", crun: "23.1" } },
  { key: "start", label: "start (created container)", unit: "ms", better: "lower", target: { kind: "ratio", vs: "floor", max: 1.15 }, anchor: { runc: "26.4", crun: "16.0" } },
  { key: "delete", label: "delete (stopped container)", unit: "ms", better: "lower", target: { kind: "ratio", vs: "floor", max: 1.15 }, anchor: { runc: "26.3", crun: "29.2" } },
  { key: "deleteForce", label: "delete --force of a running container", unit: "ms", better: "lower", target: { kind: "report" }, anchor: { runc: "-", crun: "-" } },
  { key: "heldRss", label: "memory held per created container (RSS)", unit: "MiB", better: "lower", target: { kind: "max", value: 0.25 }, anchor: { runc: "9.6", crun: "2.2" } },
  { key: "heldPss", label: "memory held per created container (PSS)", unit: "MiB", better: "lower", target: { kind: "report" }, anchor: { runc: "-", crun: "-" } },
  { key: "peakRssState", label: "peak RSS of one CLI call (state)", unit: "MiB", better: "lower", target: { kind: "floor-plus", value: 4 }, anchor: { runc: "9.1", crun: "3.1" } },
  { key: "peakRssCreate", label: "peak RSS of one CLI call (create)", unit: "MiB", better: "lower", target: { kind: "floor-plus", value: 4 }, anchor: { runc: "9.7", crun: "3.3" } },
  { key: "list", label: "list with {list} created containers", unit: "ms", better: "lower", target: { kind: "ratio", vs: "runc", max: 0.5 }, anchor: { runc: "411", crun: "79.8" } },
  { key: "stateMany", label: "state with {list} created containers present", unit: "ms", better: "lower", target: { kind: "report" }, anchor: { runc: "-", crun: "-" } },
  { key: "burstRate", label: "{burst} parallel creates: creates per second", unit: "/s", better: "higher", target: { kind: "report" }, anchor: { runc: "-", crun: "-" } },
  { key: "burstP50", label: "{burst} parallel creates: latency p50", unit: "ms", better: "lower", target: { kind: "report" }, anchor: { runc: "-", crun: "-" } },
  { key: "burstP95", label: "{burst} parallel creates: latency p95", unit: "ms", better: "lower", target: { kind: "report" }, anchor: { runc: "-", crun: "-" } },
  { key: "rate", label: "lifecycles per second, 2 parallel workers", unit: "/s", better: "higher", target: { kind: "report" }, anchor: { runc: "7.84", crun: "13.0" } },
  { key: "podman", label: "podman run --rm IMG true (--network none)", unit: "ms", better: "lower", target: { kind: "report" }, anchor: { runc: "-", crun: "-" } },
];

/** Median, min, max and count of a list of numbers; undefined for an empty or missing list. */
export function stats(samples) {
  if (!Array.isArray(samples) || samples.length === 0) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], n: s.length };
}

/** The q-quantile (0..1) of samples, nearest rank; undefined for none. */
export function quantile(samples, q) {
  if (!Array.isArray(samples) || samples.length === 0) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/**
 * measure.py burst's output -> per-repetition samples of the three burst rows: creates per second,
 * and the p50 and p95 of that repetition's create latencies.
 * @param {{rate: number[], latency: number[][], failures?: number}} b
 */
export function burstSamples(b) {
  const reps = b.latency ?? [];
  return {
    samples: {
      burstRate: b.rate ?? [],
      burstP50: reps.map((l) => quantile(l, 0.5)).filter((v) => v !== undefined),
      burstP95: reps.map((l) => quantile(l, 0.95)).filter((v) => v !== undefined),
    },
    failures: b.failures ?? 0,
  };
}

/** hyperfine --export-json -> { <command name>: samples in ms }. */
export function samplesFromHyperfine(json) {
  const out = {};
  for (const r of json?.results ?? []) out[r.command] = (r.times ?? []).map((t) => t * 1000);
  return out;
}

/** The target as the issue words it, for the table. */
export function targetText(fig) {
  const t = fig.target;
  switch (t.kind) {
    case "ratio":
      return t.max === 1 ? `<= ${t.vs}` : `<= ${t.max}x ${t.vs}`;
    case "ratio-min":
      return t.min === 1 ? `>= ${t.vs}` : `>= ${t.min}x ${t.vs}`;
    case "max":
      return `<= ${t.value} ${fig.unit}`;
    case "floor-plus":
      return `<= floor + ${t.value} ${fig.unit}`;
    case "no-regression":
      return "no regression";
    default:
      return "report";
  }
}

/**
 * Ratios tsrun/runc and tsrun/crun of the medians, and whether the target is met: true, false, or
 * null when it cannot be judged (a runtime missing; "report"; no previous run to compare with).
 * @param {any} fig a FIGURES entry
 * @param {Record<string, {median: number}|undefined>} results stats by runtime
 * @param {{median: number}|undefined} previous tsrun's stats for this figure in the previous run
 */
export function evaluate(fig, results, previous) {
  const t = results.tsrun?.median;
  const ratio = (rt) => {
    const o = results[rt]?.median;
    return t !== undefined && o !== undefined && o > 0 ? t / o : undefined;
  };
  const ratios = { runc: ratio("runc"), crun: ratio("crun"), base: ratio("base"), floor: ratio("floor") };
  const tg = fig.target;
  let met = null;
  let note = "";
  // What the target judges, as a number a reader can check against it ("1.32x floor", "floor + 5.1 MiB").
  let measured = "";
  if (t !== undefined) {
    if (tg.kind === "ratio") {
      const r = ratios[tg.vs];
      if (r !== undefined) {
        met = r <= tg.max;
        measured = `${r.toFixed(2)}x ${tg.vs}`;
      } else note = `${tg.vs} not measured`;
    } else if (tg.kind === "ratio-min") {
      const r = ratios[tg.vs];
      if (r !== undefined) {
        met = r >= tg.min;
        measured = `${r.toFixed(2)}x ${tg.vs}`;
      } else note = `${tg.vs} not measured`;
    } else if (tg.kind === "max") {
      met = t <= tg.value;
      measured = `${fmtNum(t)} ${fig.unit}`;
    } else if (tg.kind === "floor-plus") {
      const f = results.floor?.median;
      if (f !== undefined) {
        met = t <= f + tg.value;
        measured = `floor + ${fmtNum(t - f)} ${fig.unit}`;
        note = `floor ${fmtNum(f)} ${fig.unit}`;
      } else note = "floor not measured";
    } else if (tg.kind === "no-regression") {
      if (previous?.median !== undefined) {
        met = t <= previous.median * (1 + tg.tolerance);
        note = `previous ${fmtNum(previous.median)} ${fig.unit}`;
      } else note = "no previous run";
    }
  } else note = "tsrun not measured";
  return { ratios, met, measured, note };
}

/**
 * The whole report: meta (date, kernel, cpu, ...) plus one row per figure that has any samples.
 * @param {{meta: object, samples: Record<string, Record<string, number[]>>, failures?: Record<string, Record<string, number>>, previous?: any}} input
 *   samples: figure key -> runtime -> samples (in the figure's unit); failures: figure key -> runtime
 *   -> runs that failed; previous: an earlier report.
 * @returns {Report}
 */
export function buildReport({ meta, samples, failures, previous }) {
  const rows = [];
  for (const fig of FIGURES) {
    const bySample = samples[fig.key];
    if (!bySample) continue;
    /** @type {Record<string, Stats>} */
    const results = {};
    for (const rt of RUNTIMES) {
      const st = stats(bySample[rt]);
      if (st) results[rt] = { ...st, samples: bySample[rt] };
    }
    if (Object.keys(results).length === 0) continue;
    const prevRow = previous?.figures?.find((r) => r.key === fig.key);
    const ev = evaluate(fig, results, prevRow?.results?.tsrun);
    // Runs that failed (e.g. a lifecycle of the throughput figure) are not in the samples: say so.
    const failed = Object.entries(failures?.[fig.key] ?? {}).filter(([, n]) => n > 0);
    if (failed.length) ev.note = [ev.note, `failed: ${failed.map(([rt, n]) => `${rt} ${n}`).join(", ")}`].filter(Boolean).join("; ");
    const label = fig.label.replace("{list}", String(meta.settings?.listContainers ?? 100)).replace("{burst}", String(meta.settings?.burstCreates ?? 20));
    rows.push({ key: fig.key, label, unit: fig.unit, better: fig.better, target: targetText(fig), anchor: fig.anchor, results, ...ev, ...(failed.length ? { failures: Object.fromEntries(failed) } : {}) });
  }
  return { ...meta, figures: rows };
}

/** A number with 3 significant digits (2 decimals below 10). */
export function fmtNum(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return "-";
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function cell(st) {
  return st ? `${fmtNum(st.median)} (${fmtNum(st.min)}-${fmtNum(st.max)})` : "-";
}
const ratioText = (r) => (r === undefined ? "-" : `${r.toFixed(2)}x`);
const metText = (m) => (m === true ? "yes" : m === false ? "NO" : "-");

/** Whether an earlier build of tsrun was measured beside this one (bench.sh --base). */
const hasBase = (report) => report.figures.some((r) => r.results.base);

function tableRows(report) {
  const base = hasBase(report);
  return report.figures.map((r) => [
    `${r.label} [${r.unit}]`,
    cell(r.results.tsrun),
    cell(r.results.floor),
    cell(r.results.runc),
    cell(r.results.crun),
    ...(base ? [cell(r.results.base)] : []),
    ratioText(r.ratios.runc),
    ratioText(r.ratios.crun),
    ...(base ? [ratioText(r.ratios.base)] : []),
    r.target,
    r.measured ?? "",
    metText(r.met) + (r.note ? ` (${r.note})` : ""),
  ]);
}
const head = (report) =>
  hasBase(report)
    ? ["figure", "tsrun median (min-max)", "floor", "runc", "crun", "base", "tsrun/runc", "tsrun/crun", "tsrun/base", "target", "measured", "met"]
    : ["figure", "tsrun median (min-max)", "floor", "runc", "crun", "tsrun/runc", "tsrun/crun", "target", "measured", "met"];

/** Date, machine (kernel, cpu, cores, memory), load at start and end, runs: a table is read with these. */
function header(report) {
  const load = report.loadavg ? `, load ${report.loadavg.start} -> ${report.loadavg.end}` : "";
  const host = report.machine ? `${report.machine}: ` : "";
  return `${report.date}, ${host}Linux ${report.kernel}, ${report.cpu} (${report.cores} cores)${load}; ${report.runs} runs per time figure${report.quick ? " (--quick)" : ""}`;
}

/** The targets and which are met, one line each (what the bench prints after the table). */
export function formatTargets(report) {
  const lines = report.figures
    .filter((r) => r.met !== null || (r.target !== "report" && r.note))
    .map((r) => `  ${r.met === true ? "met    " : r.met === false ? "NOT MET" : "unknown"}  ${r.label}: ${r.target}${r.measured ? `, measured ${r.measured}` : ""}${r.note ? ` (${r.note})` : ""}`);
  return ["targets (issue 20):", ...lines].join("\n") + "\n";
}

/** The table as aligned plain text (what the bench prints). */
export function formatTable(report) {
  const HEAD = head(report);
  const rows = [HEAD, ...tableRows(report)];
  const widths = HEAD.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
  return [header(report), "", line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n") + "\n";
}

/** The table as markdown (for README.md and bench/results/latest.md). */
export function formatMarkdown(report) {
  const esc = (c) => c.replace(/\|/g, "\\|");
  const HEAD = head(report);
  const rows = tableRows(report);
  return [
    `Measured ${header(report)}.`,
    "",
    `| ${HEAD.join(" | ")} |`,
    `|${HEAD.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
    "",
    "The floor is an empty Bun-compiled program (`console.log(\"\")`, the same Bun and build flags as bin/tsrun), timed in the same alternating runs as the verbs; ratios are of medians in one run.",
    "",
  ].join("\n");
}

const COLORS = { tsrun: "#2b7bb9", floor: "#5aa05a", runc: "#9a9a9a", crun: "#e08a1e", base: "#7fb3dd" };
const xml = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * One horizontal bar panel: per runtime, one bar per series (median) with a min-max whisker.
 * Returns { svg, height }.
 */
function panel({ title, unit, series, results, y0, width, target }) {
  const left = 150, right = 125, barH = 14, gap = 4, groupGap = 12, top = 30;
  const plotW = width - left - right;
  const groups = RUNTIMES.filter((rt) => series.some((s) => results[s.key]?.[rt]));
  const maxV = Math.max(
    1e-9,
    target ?? 0,
    ...groups.flatMap((rt) => series.map((s) => results[s.key]?.[rt]?.max ?? 0)),
  );
  const x = (v) => left + (v / maxV) * plotW;
  const parts = [`<text x="10" y="${y0 + 18}" font-size="14" font-weight="bold">${xml(title)}</text>`];
  let y = y0 + top;
  for (const rt of groups) {
    const gy = y;
    // The floor is one program, measured beside each verb: one bar (from the first series), named as such.
    const own = rt === "floor" ? series.filter((s) => results[s.key]?.floor).slice(0, 1).map((s) => ({ ...s, name: "empty Bun program", opacity: 1 })) : series;
    for (const s of own) {
      const st = results[s.key]?.[rt];
      if (!st) continue;
      const w = Math.max(1, x(st.median) - left);
      parts.push(
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[rt]}" fill-opacity="${s.opacity ?? 1}"><title>${xml(`${rt} ${s.name}: median ${fmtNum(st.median)} ${unit}, ${fmtNum(st.min)}-${fmtNum(st.max)}`)}</title></rect>`,
        `<line x1="${x(st.min).toFixed(1)}" x2="${x(st.max).toFixed(1)}" y1="${y + barH / 2}" y2="${y + barH / 2}" stroke="#222" stroke-width="1"/>`,
        `<line x1="${x(st.min).toFixed(1)}" x2="${x(st.min).toFixed(1)}" y1="${y + 3}" y2="${y + barH - 3}" stroke="#222"/>`,
        `<line x1="${x(st.max).toFixed(1)}" x2="${x(st.max).toFixed(1)}" y1="${y + 3}" y2="${y + barH - 3}" stroke="#222"/>`,
        `<text x="${(x(st.max) + 6).toFixed(1)}" y="${y + barH - 3}" font-size="11">${xml(`${fmtNum(st.median)} ${unit}`)} ${xml(s.name)}</text>`,
      );
      y += barH + gap;
    }
    parts.push(`<text x="${left - 8}" y="${((gy + y - gap) / 2 + 4).toFixed(1)}" font-size="12" text-anchor="end">${xml(rt)}</text>`);
    y += groupGap;
  }
  if (target !== undefined) {
    parts.push(
      `<line x1="${x(target).toFixed(1)}" x2="${x(target).toFixed(1)}" y1="${y0 + top - 4}" y2="${y - groupGap + 2}" stroke="#c00" stroke-dasharray="4 3"/>`,
      `<text x="${(x(target) + 3).toFixed(1)}" y="${y0 + top - 6}" font-size="10" fill="#c00">${xml(`target ${fmtNum(target)} ${unit}`)}</text>`,
    );
  }
  // Axis: 0 and the scale's end.
  parts.push(
    `<line x1="${left}" x2="${left + plotW}" y1="${y - groupGap + 4}" y2="${y - groupGap + 4}" stroke="#888"/>`,
    `<text x="${left}" y="${y - groupGap + 16}" font-size="10" text-anchor="middle">0</text>`,
    `<text x="${left + plotW}" y="${y - groupGap + 16}" font-size="10" text-anchor="middle">${xml(`${fmtNum(maxV)} ${unit}`)}</text>`,
  );
  return { svg: parts.join("\n"), height: y - y0 + 14 };
}

/**
 * The plot: lifecycle and run latency per runtime (median bars, min-max whiskers) and the memory held
 * per created container (RSS and PSS, with the issue's 0.25 MiB target). A standalone SVG document.
 */
export function renderSvg(report, width = 760) {
  const results = {};
  for (const r of report.figures) results[r.key] = r.results;
  const a = panel({
    title: "Latency per container: create+start+wait+delete (4+ calls) and run (1 call)",
    unit: "ms",
    series: [
      { key: "lifecycle", name: "lifecycle" },
      { key: "run", name: "run", opacity: 0.55 },
    ],
    results,
    y0: 28,
    width,
  });
  const b = panel({
    title: "Memory held per created container (processes waiting for start)",
    unit: "MiB",
    series: [
      { key: "heldRss", name: "RSS" },
      { key: "heldPss", name: "PSS", opacity: 0.55 },
    ],
    results,
    y0: 28 + a.height + 10,
    width,
    target: results.heldRss ? 0.25 : undefined,
  });
  const c = panel({
    title: "One CLI call: state, kill, start, delete, and the floor (an empty Bun-compiled program)",
    unit: "ms",
    series: [
      { key: "state", name: "state" },
      { key: "kill", name: "kill", opacity: 0.8 },
      { key: "start", name: "start", opacity: 0.65 },
      { key: "delete", name: "delete", opacity: 0.5 },
    ],
    results,
    y0: 28 + a.height + 10 + b.height + 10,
    width,
  });
  const height = 28 + a.height + 10 + b.height + 10 + c.height + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="16" font-size="11" fill="#444">${xml(`tsrun bench ${report.date}, ${report.machine ? `${report.machine}, ` : ""}Linux ${report.kernel}, ${report.cpu}, load ${report.loadavg?.start ?? "?"}, ${report.runs} runs (median, min-max)`)}</text>`,
    a.svg,
    b.svg,
    c.svg,
    "</svg>",
    "",
  ].join("\n");
}

const BEGIN = "<!-- bench-table: regenerated from bench/results/latest.md -->";
const END = "<!-- /bench-table -->";

/**
 * README.md with the text between its bench-table markers replaced by `markdown`; the text as it
 * was when the markers are missing (a README without them is left alone).
 */
export function withBenchTable(readme, markdown) {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END, a + BEGIN.length);
  if (a < 0 || b < 0) return readme;
  return `${readme.slice(0, a + BEGIN.length)}\n${markdown.trimEnd()}\n${readme.slice(b)}`;
}
