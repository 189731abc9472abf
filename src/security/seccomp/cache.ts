import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LinuxSeccomp } from "../../spec/types.js";
import type { SockFilter } from "./bpf.js";
import type { CompiledSeccomp } from "./compile.js";

/**
 * Compiled seccomp filters cached by content under the state root (issue 20). On the current machine
 * kind compiling a manager's profile (podman's: 19 rules, 434 names, 3 architectures) is 15-27 ms of
 * CPU per create, a hit ~3 ms (bench/results/breakdown.md). An entry is used only when:
 *  - it was written by this very build (the build id is in the key and in the entry: a compiler change
 *    never meets an old filter),
 *  - it holds the profile's own text, equal byte for byte (the file name is a cheap hash; a collision
 *    is a miss, never another profile's filter),
 *  - it is a regular file (not followed through a symlink) owned by the caller, in a directory owned
 *    by the caller, neither writable by group or others,
 *  - its filter is well formed (instruction fields in range, every jump inside the program, the last
 *    instruction a return).
 * Anything else is a miss: the profile is compiled and, once the create succeeded, the entry written
 * again (write + rename). The cache never fails a create: an I/O error only means compiling. Bounded:
 * at most MAX_ENTRIES entries, the least recently used (mtime, touched on every hit) removed first;
 * entries unused for MAX_AGE_MS are removed on the next write; the whole cache is removed when the
 * last container of the state root is deleted (dropCacheWhenNoContainers).
 */

/** The cache directory's name in the state root: '@' is not allowed in a container id, so no id is ever this. */
export const SECCOMP_CACHE_DIR = "@seccomp-cache";
export const MAX_ENTRIES = 16;
export const MAX_AGE_MS = 7 * 24 * 3600 * 1000;
const FORMAT = 1;

declare const TSRUN_BUILD_ID: string | undefined;

/** The build's id (bin/tsrun is built with one: src/build/build.mjs); undefined elsewhere: no cache. */
export function buildId(): string | undefined {
  return typeof TSRUN_BUILD_ID === "string" && TSRUN_BUILD_ID !== "" ? TSRUN_BUILD_ID : undefined;
}

/** FNV-1a, 32 bits, of a string's UTF-16 code units: a file name, not a proof of anything. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The entry's file name for a profile's text under a build. */
export function entryName(build: string, text: string): string {
  return `${fnv1a(build + "\n" + text).toString(16).padStart(8, "0")}-${text.length}.json`;
}

/** BPF_RET class: a return. */
const BPF_RET = 0x06;
const BPF_JMP = 0x05;
const BPF_JA = 0x00;

/** Whether a filter is a well-formed classic BPF program: fields in range, jumps inside it, ends in a return. */
export function wellFormed(filter: readonly SockFilter[]): boolean {
  const n = filter.length;
  if (n === 0 || n > 4096) return false;
  for (let i = 0; i < n; i++) {
    const { code, jt, jf, k } = filter[i]!;
    if (!Number.isInteger(code) || code < 0 || code > 0xffff) return false;
    if (!Number.isInteger(jt) || jt < 0 || jt > 0xff || !Number.isInteger(jf) || jf < 0 || jf > 0xff) return false;
    if (!Number.isInteger(k) || k < 0 || k > 0xffffffff) return false;
    if ((code & 0x07) === BPF_JMP) {
      const far = (code & 0xf0) === BPF_JA ? k : Math.max(jt, jf);
      if (i + 1 + far >= n) return false;
    }
  }
  return (filter[n - 1]!.code & 0x07) === BPF_RET;
}

/** The entry's text for a compiled profile. */
export function encodeEntry(build: string, text: string, c: CompiledSeccomp): string {
  return JSON.stringify({
    format: FORMAT,
    build,
    profile: text,
    filter: c.filter.map((f) => [f.code, f.jt, f.jf, f.k]),
    flags: c.flags,
    notify: c.notify,
    ...(c.listenerPath !== undefined ? { listenerPath: c.listenerPath } : {}),
    ...(c.listenerMetadata !== undefined ? { listenerMetadata: c.listenerMetadata } : {}),
    skipped: c.skipped,
  });
}

const isString = (v: unknown): v is string => typeof v === "string";

/** The compiled profile an entry holds, when it is this build's entry for exactly this profile text and well formed. */
export function decodeEntry(data: string, build: string, text: string): CompiledSeccomp | undefined {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(data) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (e === null || typeof e !== "object" || e.format !== FORMAT || e.build !== build || e.profile !== text) return undefined;
  if (!Array.isArray(e.filter) || !Number.isInteger(e.flags) || typeof e.notify !== "boolean") return undefined;
  if (!Array.isArray(e.skipped) || !e.skipped.every(isString)) return undefined;
  if (e.listenerPath !== undefined && !isString(e.listenerPath)) return undefined;
  if (e.listenerMetadata !== undefined && !isString(e.listenerMetadata)) return undefined;
  const filter: SockFilter[] = [];
  for (const f of e.filter as unknown[]) {
    if (!Array.isArray(f) || f.length !== 4) return undefined;
    filter.push({ code: f[0], jt: f[1], jf: f[2], k: f[3] });
  }
  if (!wellFormed(filter)) return undefined;
  return {
    filter,
    flags: e.flags as number,
    notify: e.notify,
    ...(e.listenerPath !== undefined ? { listenerPath: e.listenerPath as string } : {}),
    ...(e.listenerMetadata !== undefined ? { listenerMetadata: e.listenerMetadata as string } : {}),
    skipped: e.skipped as string[],
  };
}

const euid = (): number => process.geteuid?.() ?? 0;
/** Owned by us and not writable by group or others. */
const trusted = (st: { uid: number; mode: number }): boolean => st.uid === euid() && (st.mode & 0o022) === 0;

/** The directory exists and is ours (never followed through a symlink), not writable by others. */
function trustedDir(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && trusted(st);
  } catch {
    return false;
  }
}

/** The directory, made when missing; undefined when it is not one we can trust. */
function cacheDir(dir: string): string | undefined {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") return undefined;
  }
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && trusted(st) ? dir : undefined;
  } catch {
    return undefined;
  }
}

function readEntry(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || !trusted(st) || st.size > 4 << 20) return undefined;
    return readFileSync(fd, "utf8");
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Removes entries unused for MAX_AGE_MS, then the least recently used beyond MAX_ENTRIES. */
function prune(dir: string, now: number): void {
  const entries: { path: string; mtime: number }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      // A leftover temporary file of a writer that died: old ones go with the rest.
      entries.push({ path, mtime: st.mtimeMs });
    } catch {
      // removed meanwhile
    }
  }
  entries.sort((a, b) => b.mtime - a.mtime);
  entries.forEach((e, i) => {
    if (i >= MAX_ENTRIES || now - e.mtime > MAX_AGE_MS) {
      try {
        unlinkSync(e.path);
      } catch {
        // another create pruned it
      }
    }
  });
}

/**
 * The cache at `dir` for the build `build`. `compiler` gives a seccomp compiler that looks in the cache
 * first and runs `compile` on a miss (its config errors propagate); what it compiled is written only by
 * `save`, which create calls once the container exists: a failed create leaves no entry.
 */
export class SeccompCache {
  private readonly pending: { name: string; text: string; compiled: CompiledSeccomp }[] = [];
  constructor(
    readonly dir: string,
    readonly build: string,
  ) {}

  compiler(compile: (profile: LinuxSeccomp) => CompiledSeccomp): (profile: LinuxSeccomp) => CompiledSeccomp {
    return (profile) => {
      const text = JSON.stringify(profile);
      const name = entryName(this.build, text);
      if (trustedDir(this.dir)) {
        const path = join(this.dir, name);
        const data = readEntry(path);
        const hit = data === undefined ? undefined : decodeEntry(data, this.build, text);
        if (hit) {
          try {
            const now = new Date();
            utimesSync(path, now, now); // recently used: pruned last
          } catch {
            // pruned meanwhile: the filter is in hand anyway
          }
          return hit;
        }
      }
      const compiled = compile(profile);
      this.pending.push({ name, text, compiled });
      return compiled;
    };
  }

  /** Writes what was compiled (write + rename), then prunes. Never throws: a cache that cannot be written is no cache. */
  save(): void {
    if (this.pending.length === 0) return;
    const at = cacheDir(this.dir);
    if (!at) return;
    for (const { name, text, compiled } of this.pending.splice(0)) {
      const path = join(at, name);
      const tmp = `${path}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, encodeEntry(this.build, text, compiled), { mode: 0o600, flag: "wx" });
        renameSync(tmp, path);
      } catch {
        try {
          unlinkSync(tmp);
        } catch {
          // not made
        }
      }
    }
    try {
      prune(at, Date.now());
    } catch {
      // the directory went away meanwhile (the last container deleted)
    }
  }
}

/**
 * "Removed when unused": once the state root holds no container (`ids` empty), the cache goes too,
 * so an idle state root is empty again. Never throws.
 */
export function dropCacheWhenNoContainers(root: string, ids: () => readonly string[]): void {
  // Every delete comes here: the state root is listed only when there is a cache to drop.
  const dir = join(root, SECCOMP_CACHE_DIR);
  try {
    lstatSync(dir);
  } catch {
    return;
  }
  if (ids().length > 0) return;
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // a create is writing to it right now: it stays until the next last delete
  }
}
