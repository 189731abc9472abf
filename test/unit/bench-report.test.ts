/**
 * bench/report.mjs: the pure part of the benchmark harness (bench/bench.sh): statistics, the issue's
 * targets and their evaluation, and the table and SVG the bench writes.
 */
import {
  FIGURES,
  buildReport,
  burstSamples,
  evaluate,
  fmtNum,
  formatMarkdown,
  formatTable,
  formatTargets,
  quantile,
  renderSvg,
  samplesFromHyperfine,
  stats,
  targetText,
  withBenchTable,
} from "../../bench/report.mjs";

const fig = (key: string) => {
  const f = FIGURES.find((x) => x.key === key);
  if (!f) throw new Error(`no figure ${key}`);
  return f;
};
const med = (median: number) => ({ median, min: median, max: median, n: 1 });

const META = {
  date: "2026-11-22T09:00:00Z",
  kernel: "6.18.0-test",
  cpu: "Test <CPU> & Co",
  cores: 2,
  runs: 20,
  quick: false,
  loadavg: { start: "3.10", end: "4.20" },
  settings: { listContainers: 100 },
};

describe("stats", () => {
  test("median of an odd and of an even count, min and max, whatever the order", () => {
    expect(stats([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, n: 3 });
    expect(stats([4, 1, 2, 10])).toEqual({ median: 3, min: 1, max: 10, n: 4 });
  });
  test("no samples: undefined", () => {
    expect(stats([])).toBeUndefined();
    expect(stats(undefined)).toBeUndefined();
  });
  test("does not reorder the caller's list", () => {
    const s = [3, 1, 2];
    stats(s);
    expect(s).toEqual([3, 1, 2]);
  });
});

test("samplesFromHyperfine: times in seconds by command name become milliseconds", () => {
  const json = { results: [{ command: "tsrun", times: [0.01, 0.02] }, { command: "crun", times: [0.005] }] };
  expect(samplesFromHyperfine(json)).toEqual({ tsrun: [10, 20], crun: [5] });
  expect(samplesFromHyperfine({})).toEqual({});
});

describe("evaluate", () => {
  test("lifecycle <= runc: met at equality and below, not above; ratios against both", () => {
    expect(evaluate(fig("lifecycle"), { tsrun: med(20), runc: med(20), crun: med(10) }, undefined)).toMatchObject({
      ratios: { runc: 1, crun: 2 },
      met: true,
      measured: "1.00x runc",
    });
    expect(evaluate(fig("lifecycle"), { tsrun: med(21), runc: med(20) }, undefined).met).toBe(false);
  });
  test("run <= 0.9x runc", () => {
    expect(evaluate(fig("run"), { tsrun: med(18), runc: med(20) }, undefined).met).toBe(true);
    expect(evaluate(fig("run"), { tsrun: med(18.2), runc: med(20) }, undefined).met).toBe(false);
  });
  test("each small verb <= 1.15x the floor (an empty Bun-compiled program)", () => {
    for (const k of ["state", "kill", "start", "delete"]) {
      expect(evaluate(fig(k), { tsrun: med(23), floor: med(20), runc: med(10) }, undefined)).toMatchObject({ met: true, measured: "1.15x floor" });
      expect(evaluate(fig(k), { tsrun: med(23.2), floor: med(20) }, undefined).met).toBe(false);
    }
  });
  test("list <= 0.5x runc", () => {
    expect(evaluate(fig("list"), { tsrun: med(200), runc: med(400) }, undefined).met).toBe(true);
    expect(evaluate(fig("list"), { tsrun: med(201), runc: med(400) }, undefined).met).toBe(false);
  });
  test("peak RSS of one call <= the floor's peak + 4 MiB; said how far above the floor", () => {
    expect(evaluate(fig("peakRssState"), { tsrun: med(26), floor: med(22) }, undefined)).toMatchObject({ met: true, measured: "floor + 4.00 MiB", note: "floor 22.0 MiB" });
    expect(evaluate(fig("peakRssCreate"), { tsrun: med(26.5), floor: med(22) }, undefined).met).toBe(false);
    expect(evaluate(fig("peakRssState"), { tsrun: med(26) }, undefined)).toMatchObject({ met: null, note: "floor not measured" });
  });
  test("an absolute target: held RSS <= 0.25 MiB", () => {
    expect(evaluate(fig("heldRss"), { tsrun: med(0.28) }, undefined).met).toBe(false);
    expect(evaluate(fig("heldRss"), { tsrun: med(0.25) }, undefined).met).toBe(true);
  });
  test("no regression: against the previous run's median, 10% tolerance; undecided without one", () => {
    const f = { key: "x", label: "x", unit: "MiB", better: "lower", target: { kind: "no-regression", tolerance: 0.1 }, anchor: { runc: "-", crun: "-" } };
    expect(evaluate(f, { tsrun: med(33) }, med(31.8)).met).toBe(true);
    expect(evaluate(f, { tsrun: med(36) }, med(31.8)).met).toBe(false);
    expect(evaluate(f, { tsrun: med(36) }, undefined)).toMatchObject({ met: null, note: "no previous run" });
  });
  test("undecided when the compared runtime or tsrun was not measured, and for report-only rows", () => {
    expect(evaluate(fig("state"), { tsrun: med(5), runc: med(4) }, undefined)).toMatchObject({ met: null, note: "floor not measured" });
    expect(evaluate(fig("lifecycle"), { tsrun: med(5), crun: med(4) }, undefined)).toMatchObject({ met: null, note: "runc not measured" });
    expect(evaluate(fig("state"), { floor: med(4) }, undefined)).toMatchObject({ met: null, note: "tsrun not measured" });
    expect(evaluate(fig("heldPss"), { tsrun: med(0.1), crun: med(0.5) }, undefined).met).toBeNull();
    expect(evaluate(fig("burstRate"), { tsrun: med(10), runc: med(5) }, undefined).met).toBeNull();
  });
});

test("targetText words each kind of target", () => {
  expect(targetText(fig("lifecycle"))).toBe("<= runc");
  expect(targetText(fig("run"))).toBe("<= 0.9x runc");
  expect(targetText(fig("state"))).toBe("<= 1.15x floor");
  expect(targetText(fig("list"))).toBe("<= 0.5x runc");
  expect(targetText(fig("heldRss"))).toBe("<= 0.25 MiB");
  expect(targetText(fig("peakRssCreate"))).toBe("<= floor + 4 MiB");
  expect(targetText(fig("heldPss"))).toBe("report");
});

test("every row of the issue's table is a figure", () => {
  const keys = FIGURES.map((f) => f.key);
  for (const k of ["lifecycle", "run", "state", "kill", "start", "delete", "peakRssState", "peakRssCreate", "list", "stateMany", "burstRate", "burstP50", "burstP95", "rate"]) {
    expect(keys).toContain(k);
  }
});

test("quantile: nearest rank", () => {
  expect(quantile([5, 1, 3, 2, 4], 0.5)).toBe(3);
  expect(quantile(Array.from({ length: 20 }, (_, i) => i + 1), 0.95)).toBe(19);
  expect(quantile([], 0.5)).toBeUndefined();
});

test("burstSamples: per repetition, creates per second and the p50 / p95 of its latencies", () => {
  const b = burstSamples({ rate: [4, 5], latency: [[10, 30, 20], [1, 2, 3, 4]], failures: 1 });
  expect(b.samples).toEqual({ burstRate: [4, 5], burstP50: [20, 2], burstP95: [30, 4] });
  expect(b.failures).toBe(1);
});

function sample() {
  return buildReport({
    meta: META,
    samples: {
      lifecycle: { tsrun: [40, 44, 42], runc: [50, 48, 49], crun: [20, 21, 22] },
      state: { tsrun: [30, 31], floor: [24, 25], runc: [20], crun: [12] },
      heldRss: { tsrun: [0.2, 0.2], runc: [9.6, 9.6], crun: [2.2, 2.3] },
      heldPss: { tsrun: [0.1, 0.1], runc: [3.5, 3.5], crun: [0.5, 0.5] },
      rate: { tsrun: [30], crun: [60] },
      list: { tsrun: [10], crun: [5] },
    },
    failures: { rate: { tsrun: 2, crun: 0 } },
  });
}

describe("buildReport", () => {
  test("one row per measured figure, in the issue's order, with stats, ratios and verdict", () => {
    const r = sample();
    expect(r.figures.map((f: { key: string }) => f.key)).toEqual(["lifecycle", "state", "heldRss", "heldPss", "list", "rate"]);
    const lc = r.figures[0];
    expect(lc.results.tsrun).toMatchObject({ median: 42, min: 40, max: 44, n: 3 });
    expect(lc.ratios.crun).toBeCloseTo(2);
    expect(lc.met).toBe(true); // 42 <= 49 (runc)
    expect(r.figures[1]).toMatchObject({ met: false, measured: "1.24x floor" }); // 30.5 / 24.5
    expect(r.figures[2].met).toBe(true); // 0.2 MiB <= 0.25
    expect(r.date).toBe(META.date);
  });
  test("the list row says how many containers were listed", () => {
    const r = buildReport({ meta: { ...META, settings: { listContainers: 30 } }, samples: { list: { tsrun: [1] } } });
    expect(r.figures[0].label).toBe("list with 30 created containers");
  });
  test("failed runs are reported in the row's note", () => {
    const rate = sample().figures.find((f: { key: string }) => f.key === "rate")!;
    expect(rate.failures).toEqual({ tsrun: 2 });
    expect(rate.note).toContain("failed: tsrun 2");
  });
  test("the burst rows say how many creates ran at once", () => {
    const r = buildReport({ meta: { ...META, settings: { burstCreates: 20 } }, samples: { burstP95: { tsrun: [1] } } });
    expect(r.figures[0].label).toBe("20 parallel creates: latency p95");
  });
});

test("fmtNum keeps about three significant digits", () => {
  expect(fmtNum(123.4)).toBe("123");
  expect(fmtNum(12.34)).toBe("12.3");
  expect(fmtNum(1.234)).toBe("1.23");
  expect(fmtNum(undefined)).toBe("-");
});

describe("formatTable / formatMarkdown", () => {
  test("the targets, one line each, met or not, with the figure each judges", () => {
    const t = formatTargets(sample());
    expect(t).toContain("met      create+start+wait+delete of /bin/true, new netns: <= runc, measured 0.86x runc");
    expect(t).toContain("NOT MET  state (created container): <= 1.15x floor, measured 1.24x floor");
    expect(t).not.toContain("lifecycles per second"); // report only
  });
  test("the text table: machine, load and runs on top, one aligned line per figure", () => {
    const t = formatTable(sample());
    const lines = t.trimEnd().split("\n");
    expect(lines[0]).toContain("Linux 6.18.0-test");
    expect(lines[0]).toContain("load 3.10 -> 4.20");
    expect(lines[0]).toContain("20 runs");
    const lc = lines.find((l) => l.startsWith("create+start+wait+delete"))!;
    expect(lc).toContain("42.0 (40.0-44.0)");
    expect(lc).toContain("0.86x"); // 42 / 49
    expect(lc).toContain("2.00x");
    expect(lc).toMatch(/<= runc\s+0.86x runc\s+yes$/);
    expect(lines.find((l) => l.startsWith("state"))).toContain("24.5 (24.0-25.0)"); // the floor's column
    // Columns line up: every figure line is at least as wide as the header's columns up to "met".
    const header = lines[2];
    expect(lines.slice(4).every((l) => l.length >= header.indexOf("met"))).toBe(true);
    expect(lines.find((l) => l.startsWith("memory held per created container (RSS)"))).toMatch(/yes$/);
  });
  test("the markdown table: header, separator, one row per figure", () => {
    const md = formatMarkdown(sample());
    const rows = md.split("\n").filter((l) => l.startsWith("|"));
    expect(rows).toHaveLength(2 + 6);
    expect(rows[1]).toBe("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    expect(md).toContain("The floor is an empty Bun-compiled program");
    expect(rows.every((r) => r.split(/(?<!\\)\|/).length === rows[0].split("|").length)).toBe(true);
  });
});

describe("an earlier build measured beside (bench.sh --base)", () => {
  const withBase = () =>
    buildReport({ meta: META, samples: { lifecycle: { tsrun: [40, 42, 44], runc: [48, 49, 50], crun: [21], base: [38, 40, 42] } } });
  test("the ratio tsrun/base of the medians", () => {
    expect(withBase().figures[0].ratios.base).toBeCloseTo(42 / 40);
  });
  test("the tables gain a base column and a tsrun/base column, only when base was measured", () => {
    const t = formatTable(withBase()).split("\n");
    expect(t[2]).toMatch(/\bbase\b.*tsrun\/crun\s+tsrun\/base/);
    expect(t.find((l) => l.startsWith("create+start+wait+delete"))).toContain("1.05x");
    const md = formatMarkdown(withBase()).split("\n").filter((l) => l.startsWith("|"));
    expect(md[0].split("|").length).toBe(14);
    expect(formatTable(sample())).not.toContain("tsrun/base");
  });
});

describe("renderSvg", () => {
  const svg = renderSvg(sample());
  test("a standalone SVG document with XML-escaped text", () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("Test &lt;CPU&gt; &amp; Co");
    expect(svg).not.toContain("<CPU>");
  });
  test("bar lengths are proportional to the medians (lifecycle: tsrun 42 ms, crun 21 ms)", () => {
    const width = (who: string) => Number(new RegExp(`width="([0-9.]+)"[^>]*><title>${who}: median`).exec(svg)?.[1]);
    expect(width("tsrun lifecycle") / width("crun lifecycle")).toBeCloseTo(2, 1);
    expect(width("runc RSS") / width("crun RSS")).toBeCloseTo(9.6 / 2.25, 1);
  });
  test("the memory panel shows the 0.25 MiB target", () => {
    expect(svg).toContain("target 0.25 MiB");
  });
  test("the floor is its own bar, beside the verbs", () => {
    expect(svg).toMatch(/<title>floor empty Bun program: median 24.5 ms/);
    expect(svg).toMatch(/<title>tsrun state: median 30.5 ms/);
    expect(svg).not.toMatch(/<title>floor state:/);
  });
});

describe("withBenchTable", () => {
  const readme = "# x\n\nbefore\n<!-- bench-table: regenerated from bench/results/latest.md -->\nold table\n<!-- /bench-table -->\nafter\n";
  test("replaces only what is between the markers, and again on the next run", () => {
    const once = withBenchTable(readme, "| new |\n");
    expect(once).toBe("# x\n\nbefore\n<!-- bench-table: regenerated from bench/results/latest.md -->\n| new |\n<!-- /bench-table -->\nafter\n");
    expect(withBenchTable(once, "| newer |")).toContain("-->\n| newer |\n<!-- /bench-table -->\nafter");
  });
  test("a README without the markers is left as it is", () => {
    expect(withBenchTable("# no markers\n", "| t |")).toBe("# no markers\n");
  });
});
