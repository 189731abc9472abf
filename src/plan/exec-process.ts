import { UsageError } from "../errors.js";
import { CAPABILITIES } from "../security/capabilities.js";
import type { Process } from "../spec/types.js";

/**
 * The process that `exec` runs when no --process file is given: the container's own config.json
 * process with the command and runc's flags applied, as `runc exec` does. Pure.
 */
export interface ExecFlags {
  /** The command and its arguments. */
  args: string[];
  tty?: boolean;
  /** NAME=VALUE entries, in the order given. */
  env?: string[];
  cwd?: string;
  /** "<uid>[:<gid>]". */
  user?: string;
  additionalGids?: string[];
  caps?: string[];
  /** --no-new-privs (true), --no-new-privs=false (false), or not given. */
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
}

/** The flags that change the process, by option name: with --process they have nothing to apply to. */
export function processFlagsGiven(f: ExecFlags): string[] {
  const given: string[] = [];
  if (f.env?.length) given.push("--env");
  if (f.cwd !== undefined) given.push("--cwd");
  if (f.user !== undefined) given.push("--user");
  if (f.additionalGids?.length) given.push("--additional-gids");
  if (f.caps?.length) given.push("--cap");
  if (f.noNewPrivs !== undefined) given.push("--no-new-privs");
  if (f.apparmor !== undefined) given.push("--apparmor");
  if (f.processLabel !== undefined) given.push("--process-label");
  return given;
}

const ID_MAX = 2 ** 32 - 2; // (uid_t)-1 means "unchanged" to the kernel

/** A uid or gid; `given` is the whole flag value, for the message. */
function parseId(text: string, flag: string, given: string, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) > ID_MAX) throw new UsageError(`${flag} "${given}": the ${what} must be a number from 0 to ${ID_MAX}`);
  return Number(text);
}

/**
 * Env entries made unique by name, as runc does: each name keeps the position of its first entry
 * and the value of its last, so `-e PATH=/bin` replaces the config's PATH in place. Pure.
 */
export function dedupeEnv(env: readonly string[]): string[] {
  const out: string[] = [];
  const at = new Map<string, number>();
  for (const e of env) {
    const eq = e.indexOf("=");
    const name = eq < 0 ? e : e.slice(0, eq);
    const i = at.get(name);
    if (i === undefined) {
      at.set(name, out.length);
      out.push(e);
    } else {
      out[i] = e;
    }
  }
  return out;
}

/** `base` (the container's config.json process, left untouched) with the command and the flags applied. */
export function execProcessFromFlags(base: Process, f: ExecFlags): Process {
  if (!f.args.length) throw new UsageError("exec: give the command to run after the container id, or --process FILE");
  const p: Process = structuredClone(base);
  p.args = [...f.args];
  // As runc: the config's terminal is the container's own; an exec'd process has one only with --tty.
  p.terminal = f.tty ?? false;
  if (f.cwd !== undefined) {
    if (!f.cwd.startsWith("/")) throw new UsageError(`--cwd "${f.cwd}": must be an absolute path inside the container`);
    p.cwd = f.cwd;
  }
  for (const e of f.env ?? []) {
    if (e.indexOf("=") < 1) throw new UsageError(`--env "${e}": must be NAME=VALUE`);
  }
  p.env = dedupeEnv([...(p.env ?? []), ...(f.env ?? [])]);
  if (f.user !== undefined) {
    const [uid, gid, extra] = f.user.split(":");
    if (extra !== undefined || uid === "") throw new UsageError(`--user "${f.user}": must be <uid>[:<gid>]`);
    p.user = { ...p.user, uid: parseId(uid, "--user", f.user, "uid") };
    if (gid !== undefined) p.user.gid = parseId(gid, "--user", f.user, "gid");
  }
  if (f.additionalGids?.length) {
    const gids = f.additionalGids.map((g) => parseId(g, "--additional-gids", g, "gid"));
    p.user = { ...p.user, additionalGids: [...(p.user.additionalGids ?? []), ...gids] };
  }
  if (f.caps?.length) {
    for (const c of f.caps) if (!CAPABILITIES.includes(c)) throw new UsageError(`--cap "${c}": unknown capability (names such as CAP_SYS_ADMIN)`);
    // Without a capabilities object the process keeps every capability: nothing to add to.
    if (p.capabilities) {
      // runc adds them to the bounding, effective, permitted and ambient sets; not to inheritable (since
      // runc 1.1.2, CVE-2022-29162), so an ambient one is raised only if the config made it inheritable.
      const c = p.capabilities;
      for (const set of ["bounding", "effective", "permitted", "ambient"] as const) {
        c[set] = [...new Set([...(c[set] ?? []), ...f.caps])];
      }
    }
  }
  if (f.noNewPrivs !== undefined) p.noNewPrivileges = f.noNewPrivs;
  if (f.apparmor !== undefined) p.apparmorProfile = f.apparmor;
  if (f.processLabel !== undefined) p.selinuxLabel = f.processLabel;
  return p;
}
