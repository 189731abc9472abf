/**
 * bench/report.mjs: the pure part of the benchmark harness (bench/bench.sh): statistics, the issue's
 * targets and their evaluation, and the table and SVG the bench writes.
 */
import {
  FIGURES,
  buildReport,
  evaluate,
  fmtNum,
  formatMarkdown,
  formatTable,
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
  test("<= crun: met at equality and below, not above; ratios against both", () => {
    expect(evaluate(fig("lifecycle"), { tsrun: med(20), runc: med(40), crun: med(20) }, undefined)).toMatchObject({
      ratios: { runc: 0.5, crun: 1 },
      met: true,
    });
    expect(evaluate(fig("lifecycle"), { tsrun: med(21), crun: med(20) }, undefined).met).toBe(false);
  });
  test(">= crun for a higher-is-better figure (lifecycles per second)", () => {
    expect(evaluate(fig("rate"), { tsrun: med(60), crun: med(50) }, undefined).met).toBe(true);
    expect(evaluate(fig("rate"), { tsrun: med(40), crun: med(50) }, undefined).met).toBe(false);
  });
  test("an absolute target: delete --force <= 10 ms, held RSS <= 0.25 MiB", () => {
    expect(evaluate(fig("deleteForce"), { tsrun: med(9.9), runc: med(107) }, undefined).met).toBe(true);
    expect(evaluate(fig("deleteForce"), { tsrun: med(10.1) }, undefined).met).toBe(false);
    expect(evaluate(fig("heldRss"), { tsrun: med(0.28) }, undefined).met).toBe(false);
    expect(evaluate(fig("heldRss"), { tsrun: med(0.25) }, undefined).met).toBe(true);
  });
  test("no regression: against the previous run's median, 10% tolerance; undecided without one", () => {
    expect(evaluate(fig("peakRssState"), { tsrun: med(33) }, med(31.8)).met).toBe(true);
    expect(evaluate(fig("peakRssState"), { tsrun: med(36) }, med(31.8)).met).toBe(false);
    expect(evaluate(fig("peakRssState"), { tsrun: med(36) }, undefined)).toMatchObject({ met: null, note: "no previous run" });
  });
  test("undecided when crun or tsrun was not measured, and for report-only rows", () => {
    expect(evaluate(fig("state"), { tsrun: med(5), runc: med(4) }, undefined)).toMatchObject({ met: null, note: "crun not measured" });
    expect(evaluate(fig("state"), { crun: med(4) }, undefined)).toMatchObject({ met: null, note: "tsrun not measured" });
    expect(evaluate(fig("heldPss"), { tsrun: med(0.1), crun: med(0.5) }, undefined).met).toBeNull();
  });
});

test("targetText words each kind of target", () => {
  expect(targetText(fig("run"))).toBe("<= crun");
  expect(targetText(fig("rate"))).toBe(">= crun");
  expect(targetText(fig("deleteForce"))).toBe("<= 10 ms");
  expect(targetText(fig("heldRss"))).toBe("<= 0.25 MiB");
  expect(targetText(fig("peakRssCreate"))).toBe("no regression");
  expect(targetText(fig("heldPss"))).toBe("report");
});

test("every row of the issue's table is a figure", () => {
  const keys = FIGURES.map((f) => f.key);
  for (const k of ["lifecycle", "run", "state", "kill", "start", "delete", "deleteForce", "heldRss", "peakRssState", "list", "rate", "podman"]) {
    expect(keys).toContain(k);
  }
});

function sample() {
  return buildReport({
    meta: META,
    samples: {
      lifecycle: { tsrun: [40, 44, 42], runc: [50, 48, 49], crun: [20, 21, 22] },
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
    expect(r.figures.map((f: { key: string }) => f.key)).toEqual(["lifecycle", "heldRss", "heldPss", "list", "rate"]);
    const lc = r.figures[0];
    expect(lc.results.tsrun).toMatchObject({ median: 42, min: 40, max: 44, n: 3 });
    expect(lc.ratios.crun).toBeCloseTo(2);
    expect(lc.met).toBe(false);
    expect(r.figures[1].met).toBe(true); // 0.2 MiB <= 0.25
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
  test("the previous report is the baseline of the no-regression rows", () => {
    const prev = buildReport({ meta: META, samples: { peakRssState: { tsrun: [30] } } });
    const now = buildReport({ meta: META, samples: { peakRssState: { tsrun: [40] } }, previous: prev });
    expect(now.figures[0]).toMatchObject({ met: false, note: "previous 30.0 MiB" });
  });
});

test("fmtNum keeps about three significant digits", () => {
  expect(fmtNum(123.4)).toBe("123");
  expect(fmtNum(12.34)).toBe("12.3");
  expect(fmtNum(1.234)).toBe("1.23");
  expect(fmtNum(undefined)).toBe("-");
});

describe("formatTable / formatMarkdown", () => {
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
    expect(lc).toMatch(/<= crun\s+NO$/);
    // Columns line up: every figure line is at least as wide as the header's columns up to "met".
    const header = lines[2];
    expect(lines.slice(4).every((l) => l.length >= header.indexOf("met"))).toBe(true);
    expect(lines.find((l) => l.startsWith("memory held per created container (RSS)"))).toMatch(/yes$/);
  });
  test("the markdown table: header, separator, one row per figure", () => {
    const md = formatMarkdown(sample());
    const rows = md.split("\n").filter((l) => l.startsWith("|"));
    expect(rows).toHaveLength(2 + 5);
    expect(rows[1]).toBe("|---|---:|---:|---:|---:|---:|---:|---:|");
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
    expect(md[0].split("|").length).toBe(12);
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
