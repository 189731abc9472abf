// Helpers of the reliability suite (test/integration/rel-*.test.ts): a Scratch whose tsrun calls run
// inside a network namespace made by the test (so bridges and veths never touch the host's network),
// the test build of the CLI (bin/tsrun-faults, which honours TSRUN_FAULT), a bundle with everything
// a container can hold on the host (overlay layers, a memory limit, a veth on a bridge), and a leak
// check that also looks for veths in that namespace and files under the state root.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Scratch, TOP, TSRUN, ensureBuilt, leftovers } from "./tsrun.js";

export const TSRUN_FAULTS = join(TOP, "bin/tsrun-faults");
export const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find((p) => existsSync(p))!;
export const NSENTER = ["/usr/bin/nsenter", "/usr/sbin/nsenter", "/bin/nsenter"].find((p) => existsSync(p))!;
const LAYERED = join(TOP, "bundles/layered");
export const BASE_LAYER = join(LAYERED, "layers/base");
export const APP_LAYER = join(LAYERED, "layers/app");

/** The statuses `state` may report (runtime.md, plus creating). */
export const LEGAL_STATUS = ["creating", "created", "running", "paused", "stopped"];

export interface Call {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CallOptions {
  /** TSRUN_FAULT for bin/tsrun-faults (the call then runs the test build). */
  fault?: string;
  timeout?: number;
}

/** Make sure bin/tsrun-faults and the layered bundle's layers exist. */
export function ensureRelBuilt(): void {
  ensureBuilt();
  if (!existsSync(TSRUN_FAULTS)) {
    const r = spawnSync(process.execPath, [join(TOP, "src/build/build.mjs")], { stdio: "inherit" });
    if (r.status !== 0) throw new Error("build failed");
  }
  if (!existsSync(join(BASE_LAYER, "bin/busybox")) || !existsSync(join(APP_LAYER, "app/hello.sh"))) {
    const r = spawnSync("bash", [join(TOP, "bundles/build-all.sh")], { stdio: "inherit" });
    if (r.status !== 0) throw new Error("bundles/build-all.sh failed");
  }
}

function sh(file: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(file, args, { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let nsSeq = 0;
let callSeq = 0;

/** A Scratch (private state root) plus a private network namespace that every tsrun call runs in. */
export class Rig extends Scratch {
  readonly ns = `tsrun-rel${process.pid}-${nsSeq++}`;

  constructor() {
    super();
    const r = sh(IP, ["netns", "add", this.ns]);
    if (r.status !== 0) throw new Error(`ip netns add ${this.ns}: ${r.stderr}`);
  }

  private argv(args: string[], fault?: string): { file: string; argv: string[]; env: NodeJS.ProcessEnv } {
    const bin = fault !== undefined ? TSRUN_FAULTS : TSRUN;
    return { file: NSENTER, argv: [`--net=/run/netns/${this.ns}`, "--", bin, "--root", this.root, ...args], env: fault !== undefined ? { TSRUN_FAULT: fault } : {} };
  }

  /** What a call needs: the command, and its stdout/stderr files (see Scratch.tsrun); `finish` closes
   *  them and reads the result. */
  private prepare(args: string[], opts: CallOptions) {
    const n = callSeq++;
    const outFile = join(this.dir, `rel-out.${n}`);
    const errFile = join(this.dir, `rel-err.${n}`);
    const o = openSync(outFile, "w");
    const e = openSync(errFile, "w");
    const t0 = performance.now();
    const finish = (status: number | null, signal: NodeJS.Signals | null): Call => {
      closeSync(o);
      closeSync(e);
      return { status, signal, stdout: readFileSync(outFile, "utf8"), stderr: readFileSync(errFile, "utf8"), ms: performance.now() - t0 };
    };
    return { ...this.argv(args, opts.fault), stdio: ["ignore", o, e] as ["ignore", number, number], timeout: opts.timeout ?? 60_000, finish };
  }

  /** bin/tsrun (or with a fault, bin/tsrun-faults) in the namespace; output to files (see Scratch.tsrun). */
  call(args: string[], opts: CallOptions = {}): Call {
    const c = this.prepare(args, opts);
    let r;
    try {
      r = spawnSync(c.file, c.argv, { env: c.env, cwd: this.dir, timeout: c.timeout, stdio: c.stdio });
    } catch (e) {
      c.finish(null, null);
      throw e;
    }
    return c.finish(r.status, r.signal);
  }

  /** The same, without blocking (for parallel callers). */
  callAsync(args: string[], opts: CallOptions = {}): Promise<Call> {
    const c = this.prepare(args, opts);
    return new Promise((resolve) => {
      const child = spawn(c.file, c.argv, { env: c.env, cwd: this.dir, stdio: c.stdio, timeout: c.timeout });
      let done = false; // "error" and "exit" may both come: the files are closed once
      const end = (status: number | null, signal: NodeJS.Signals | null) => {
        if (!done) resolve(c.finish(status, signal));
        done = true;
      };
      child.once("exit", end);
      child.once("error", () => end(null, null));
    });
  }

  /**
   * A bundle with overlay layers (the layered example's), a memory limit, a pids limit and a veth on
   * bridge tsrel0 (subnet 10.78.0.0/16, address allocated) in the test's namespace.
   */
  fullBundle(script: string, edit: (c: any) => void = () => {}): string {
    const b = this.bundle((c) => {
      c.root = { path: "rootfs", readonly: false };
      c.tsrun = {
        layers: [BASE_LAYER, APP_LAYER],
        network: { bridge: "tsrel0", subnet: "10.78.0.0/16", gateway: "10.78.0.1", interfaces: [{ name: "eth0" }] },
      };
      c.linux.resources = { ...(c.linux.resources ?? {}), memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 128 } };
      c.process.args = ["sh", "-c", script];
      edit(c);
    });
    mkdirSync(join(b, "rootfs"), { recursive: true });
    return b;
  }

  /** Host ends of container veths (ts + 11 hex digits, see hostVethName) still in the namespace. */
  veths(): string[] {
    const r = sh(IP, ["-n", this.ns, "-o", "link", "show"]);
    return r.stdout.split("\n").filter(Boolean).map((l) => l.split(": ")[1].split("@")[0]).filter((n) => /^ts[0-9a-f]{11}$/.test(n));
  }

  /**
   * leftovers() of these ids (but not the state dirs of this rig's other containers, so one test's
   * leak is not counted again by every later one), address leases they hold, veths in the namespace.
   */
  leaks(ids: string[]): string[] {
    const others = [...this.ids].filter((i) => !ids.includes(i)).map((i) => `state dir ${join(this.root, i)}`);
    const leases: string[] = [];
    const ipam = join(this.root, "@ipam");
    if (existsSync(ipam)) {
      for (const bridge of readdirSync(ipam)) {
        for (const f of readdirSync(join(ipam, bridge))) {
          let holder = "";
          try {
            holder = readFileSync(join(ipam, bridge, f), "utf8");
          } catch {
            // removed meanwhile
          }
          if (ids.includes(holder) || f.startsWith("lock")) leases.push(`lease ${bridge}/${f} (${holder})`);
        }
      }
    }
    const rest = leftovers(this.root, ids).filter((l) => !others.includes(l) && !l.endsWith("/@ipam"));
    return [...rest, ...leases, ...this.veths().map((v) => `veth ${v}`)];
  }

  /** Delete everything, check nothing is left (the namespace too), remove the namespace and the scratch dir. */
  finish(): string[] {
    for (const id of this.ids) this.call(["delete", "--force", id]);
    const leaks = [...this.veths().map((v) => `veth ${v}`)];
    sh(IP, ["netns", "del", this.ns]);
    if (sh(IP, ["netns", "list"]).stdout.includes(this.ns)) leaks.push(`netns ${this.ns}`);
    return [...leaks, ...this.cleanup()];
  }
}

/** One line of error on stderr ("tsrun: ..."), no stack trace. */
export function oneErrorLine(stderr: string): boolean {
  const lines = stderr.split("\n").filter((l) => l !== "");
  return lines.length === 1 && lines[0].startsWith("tsrun: ") && !/\n\s+at /.test(stderr) && !/\bat .*\.(ts|js):\d+/.test(stderr);
}

/** `state` output parsed, with a legal status; or the reason it is not. */
export function checkState(c: Call): { ok: boolean; why?: string; status?: string } {
  if (c.status !== 0) return { ok: false, why: `exit ${c.status}: ${c.stderr}` };
  let st: any;
  try {
    st = JSON.parse(c.stdout);
  } catch (e) {
    return { ok: false, why: `not JSON: ${JSON.stringify(c.stdout)}` };
  }
  if (!LEGAL_STATUS.includes(st?.status)) return { ok: false, why: `status ${JSON.stringify(st?.status)}` };
  return { ok: true, status: st.status };
}
