/**
 * The import graph of src/: no cycle, and no arrow from a lower layer up (the layering of issue 15,
 * lowest first: errors and spec types; state, cgroups, fs, security, hooks, the launch contract; plan;
 * lifecycle; cli). Every static and dynamic specifier counts, `import type` included: a type-only
 * arrow up still ties the lower layer to the higher one's code.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const repo = fileURLToPath(new URL("../..", import.meta.url));

/** A file of src/ (repo-relative, e.g. "src/state/store.ts") and what it imports, resolved the same way. */
interface Edge {
  from: string;
  to: string;
}

const files = (readdirSync(join(repo, "src"), { recursive: true }) as string[])
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
  .map((f) => join("src", f))
  .sort();

/**
 * The file a relative specifier names: the .ts source of the .js it names, or a .js generated at build
 * time (src/spec/generated/, src/security/seccomp/generated/: leaves, they import nothing of src/).
 */
function resolveSpecifier(from: string, spec: string): string | undefined {
  const abs = resolve(repo, dirname(from), spec);
  for (const candidate of [abs.replace(/\.js$/, ".ts"), abs]) {
    if (/\.[jt]s$/.test(candidate) && existsSync(candidate)) return relative(repo, candidate);
  }
  return undefined;
}

const edges: Edge[] = [];
const unresolved: string[] = [];
for (const from of files) {
  // The compiler's own scanner: comments and strings are not imports; `import("x")` and
  // `typeof import("x")` are.
  const { importedFiles } = ts.preProcessFile(readFileSync(join(repo, from), "utf8"), true, true);
  for (const { fileName } of importedFiles) {
    if (!fileName.startsWith(".")) continue; // node: and npm packages
    const to = resolveSpecifier(from, fileName);
    if (to === undefined) unresolved.push(`${from} -> ${fileName}`);
    else edges.push({ from, to });
  }
}

const show = (e: Edge) => `${e.from} -> ${e.to}`;
const inArea = (file: string, area: string) => (area.endsWith(".ts") ? file === area : file.startsWith(`${area}/`));

/** Each rule: files in `lower` never import from `upper`. */
const RULES: { lower: string[]; upper: string[] }[] = [
  {
    lower: ["src/errors.ts", "src/spec", "src/state", "src/cgroups", "src/fs", "src/security", "src/hooks", "src/network", "src/init", "src/launch"],
    upper: ["src/plan", "src/lifecycle", "src/cli"],
  },
  { lower: ["src/plan"], upper: ["src/lifecycle", "src/cli"] },
  { lower: ["src/lifecycle"], upper: ["src/cli"] },
];

/** The cycles of the graph, one per strongly connected component (Tarjan), each as a closed path. */
function cycles(all: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of all) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const scc = new Set<string>();
    for (let w = ""; w !== v; ) {
      w = stack.pop()!;
      onStack.delete(w);
      scc.add(w);
    }
    if (scc.size > 1 || (next.get(v) ?? []).includes(v)) found.push(pathWithin(v, scc, next));
  };
  for (const f of [...new Set(all.flatMap((e) => [e.from, e.to]))].sort()) if (!index.has(f)) visit(f);
  return found;
}

/** A shortest path from `start` back to itself inside one component (breadth first). */
function pathWithin(start: string, scc: ReadonlySet<string>, next: ReadonlyMap<string, string[]>): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of next.get(v) ?? []) {
      if (!scc.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(parent.get(path[0])!);
        return [...path, start];
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

describe("import graph of src/", () => {
  test("every relative import names a file of src/", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(edges.length).toBeGreaterThan(100);
    expect(unresolved).toEqual([]);
  });

  test("has no cycle", () => {
    expect(cycles(edges).map((c) => c.join(" -> "))).toEqual([]);
  });

  test.each(RULES.map((r) => [r.lower.join(", "), r.upper.join(", "), r] as const))("%s never import from %s", (_l, _u, rule) => {
    const up = edges.filter((e) => rule.lower.some((a) => inArea(e.from, a)) && rule.upper.some((a) => inArea(e.to, a)));
    expect(up.map(show)).toEqual([]);
  });

  test("the checks see what they look for (a cycle and an arrow up, made up)", () => {
    const made: Edge[] = [
      { from: "src/a.ts", to: "src/b.ts" },
      { from: "src/b.ts", to: "src/c.ts" },
      { from: "src/c.ts", to: "src/a.ts" },
      { from: "src/c.ts", to: "src/d.ts" },
    ];
    expect(cycles(made)).toEqual([["src/a.ts", "src/b.ts", "src/c.ts", "src/a.ts"]]);
    expect(cycles([{ from: "src/x.ts", to: "src/x.ts" }])).toEqual([["src/x.ts", "src/x.ts"]]);
    // The real graph's edges include the dynamic and the type-only ones.
    expect(edges.map(show)).toEqual(expect.arrayContaining(["src/lifecycle/delete.ts -> src/network/setup.ts", "src/lifecycle/state.ts -> src/state/status.ts"]));
  });
});
