/**
 * linux.seccomp -> a classic BPF program (struct sock_filter list) for seccomp(SECCOMP_SET_MODE_FILTER).
 * Pure: the syscall numbers come from tables generated from the kernel headers at build time.
 *
 * Shape of the program:
 *   load arch; one jeq per architecture in the filter; any other architecture: KILL_THREAD (libseccomp's
 *   default bad-architecture action, which runc keeps)
 *   per architecture: load nr; on x86_64, numbers with X32_SYSCALL_BIT go to the x32 part (or get the
 *   bad-architecture action when x32 is not in the filter); with a deny-by-default profile, a number above
 *   the highest one the profile names gets ENOSYS (runc's stub, so that libc falls back from a syscall
 *   newer than the profile); then the syscalls: unconditional ones as runs of `jeq nr` sharing one `ret`,
 *   conditional ones as a block each (rules tried in order, the conditions of one rule ANDed); last, the
 *   default action.
 *
 * Semantics where the spec is silent, chosen to match runc (+ libseccomp) and recorded in spec-notes.md:
 *   - an unconditional rule whose action equals the default action is dropped, as runc drops it; a
 *     conditional one is kept (runc drops it too), since it takes precedence over the syscall's
 *     unconditional rule: "allow kill, but kill(_, 9) gets the default EPERM" works as written;
 *   - a syscall name that no architecture of the filter knows is skipped (listed in `skipped`);
 *   - within one rule, conditions on distinct args are ANDed; when an arg index repeats, each condition
 *     becomes a rule of its own (ORed), as runc does since libseccomp refuses repeated args;
 *   - for one syscall, rules with conditions are tried first, in config order, then the first
 *     unconditional rule (later unconditional rules for the same syscall are ignored), then the default;
 *   - comparisons are unsigned and on all 64 bits (two 32-bit words), on every architecture (for x86 and
 *     x32 processes the kernel zero-extends the arguments).
 */
import { ConfigError } from "../../errors.js";
import type { LinuxSeccomp, LinuxSeccompArg } from "../../spec/types.js";
import { type FilterArch, lookupArch, NATIVE_ARCH, X32_SYSCALL_BIT } from "./arch.js";
import {
  Assembler,
  BPF_JEQ_K,
  BPF_JGE_K,
  BPF_JGT_K,
  BPF_MAXINSNS,
  type Label,
  type SockFilter,
} from "./bpf.js";

/** SECCOMP_RET_* (linux/seccomp.h). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

export const SECCOMP_ACTIONS = [
  "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
] as const;

export const SECCOMP_OPERATORS = [
  "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
] as const;

/** The SECCOMP_FILTER_FLAG_* a profile may name (runtime-spec), with their values. */
export const SECCOMP_FLAGS: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};
/** Set by tsrun itself: with a NOTIFY rule (the kernel returns the listener fd), and TSYNC_ESRCH when
 *  TSYNC is also asked (the kernel refuses TSYNC with NEW_LISTENER otherwise). */
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
export const SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 16;

const EPERM = 1;
const ENOSYS = 38;
const MAX_ERRNO = 4095;
/** sizeof(sockaddr_un.sun_path) - 1 */
const SUN_PATH_MAX = 107;
/** offsetof(struct seccomp_data, ...) */
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARGS = 16;
/** Unconditional syscalls sharing one `ret`: small enough that every jump stays short. */
const RUN_MAX = 200;

export interface CompiledSeccomp {
  filter: SockFilter[];
  /** seccomp(2) flags. */
  flags: number;
  /** The filter has a NOTIFY rule: loading it returns a listener fd, which goes to listenerPath. */
  notify: boolean;
  listenerPath?: string;
  listenerMetadata?: string;
  /** Syscall names that no architecture of the filter knows: skipped, as runc does. */
  skipped: string[];
}

interface Cond {
  index: number;
  op: string;
  value: bigint;
  valueTwo: bigint;
}

interface Rule {
  action: number;
  conds: Cond[];
}

/** The rules of one syscall on one architecture. */
interface SyscallRules {
  conditional: Rule[];
  unconditional?: number;
}

export function compileSeccomp(profile: LinuxSeccomp, field = "/linux/seccomp"): CompiledSeccomp {
  if (profile.defaultAction === "SCMP_ACT_NOTIFY") {
    // tsrun-init passes the listener fd on with sendmsg after loading the filter: a notified sendmsg
    // would wait for a listener that has no fd yet. runc refuses it for the same reason.
    throw new ConfigError(`${field}/defaultAction`, "SCMP_ACT_NOTIFY cannot be the default action");
  }
  const defaultAct = actionValue(profile.defaultAction, profile.defaultErrnoRet, `${field}/defaultAction`, `${field}/defaultErrnoRet`);

  const listenerPath = profile.listenerPath;
  if (listenerPath !== undefined) {
    if (!listenerPath.startsWith("/")) throw new ConfigError(`${field}/listenerPath`, `must be an absolute path: ${listenerPath}`);
    if (Buffer.byteLength(listenerPath) > SUN_PATH_MAX) {
      throw new ConfigError(`${field}/listenerPath`, `longer than a unix socket path may be (${SUN_PATH_MAX} bytes)`);
    }
  }

  // Architectures: the native one always (libseccomp adds it), then the profile's; foreign ones skipped.
  const arches: FilterArch[] = [];
  const addArch = (name: string, at: string) => {
    const a = lookupArch(name);
    if (a === undefined) throw new ConfigError(at, `unknown architecture "${name}"`);
    if (a !== "foreign" && !arches.some((x) => x.name === a.name)) arches.push(a);
  };
  addArch(NATIVE_ARCH, `${field}/architectures`);
  (profile.architectures ?? []).forEach((name, i) => addArch(name, `${field}/architectures/${i}`));

  let flags = 0;
  (profile.flags ?? []).forEach((name, i) => {
    const v = SECCOMP_FLAGS[name];
    if (v === undefined) {
      throw new ConfigError(`${field}/flags/${i}`, `unknown flag "${name}" (known: ${Object.keys(SECCOMP_FLAGS).join(", ")})`);
    }
    flags |= v;
  });

  // Rules per architecture, by syscall number, in config order.
  const perArch = arches.map(() => new Map<number, SyscallRules>());
  const maxNr = arches.map(() => -1);
  const skipped: string[] = [];
  let notify = false;
  (profile.syscalls ?? []).forEach((sc, i) => {
    const at = `${field}/syscalls/${i}`;
    const action = actionValue(sc.action, sc.errnoRet, `${at}/action`, `${at}/errnoRet`);
    if (sc.action === "SCMP_ACT_NOTIFY" && listenerPath === undefined) {
      throw new ConfigError(`${at}/action`, `SCMP_ACT_NOTIFY needs ${field}/listenerPath`);
    }
    const rules = rulesOf(sc.args ?? [], action, at);
    sc.names.forEach((name, j) => {
      if (sc.action === "SCMP_ACT_NOTIFY" && name === "sendmsg") {
        throw new ConfigError(`${at}/names/${j}`, "sendmsg cannot be notified: tsrun-init passes the listener fd on with it");
      }
      if (sc.action === "SCMP_ACT_NOTIFY" && name === "write") {
        // As runc refuses it: once the filter is loaded, tsrun-init still writes to its parent and to `start`.
        throw new ConfigError(`${at}/names/${j}`, "SCMP_ACT_NOTIFY cannot be used for the write syscall (tsrun-init writes to the exec fifo after loading the filter)");
      }
      let known = false;
      arches.forEach((arch, a) => {
        const nr = arch.syscalls[name];
        if (nr === undefined) return;
        known = true;
        maxNr[a] = Math.max(maxNr[a]!, nr);
        for (const rule of rules) {
          if (!rule.conds.length && action === defaultAct) continue; // redundant
          let r = perArch[a]!.get(nr);
          if (!r) perArch[a]!.set(nr, (r = { conditional: [] }));
          if (rule.conds.length) r.conditional.push(rule);
          else if (r.unconditional === undefined) r.unconditional = rule.action;
        }
        if (action === SECCOMP_RET.USER_NOTIF) notify = true;
      });
      if (!known && !skipped.includes(name)) skipped.push(name);
    });
  });

  if (notify) {
    flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    if (flags & SECCOMP_FLAGS.SECCOMP_FILTER_FLAG_TSYNC!) flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  } else if (flags & SECCOMP_FLAGS.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV!) {
    const i = profile.flags!.indexOf("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
    throw new ConfigError(`${field}/flags/${i}`, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_NOTIFY rule");
  }

  // The ENOSYS stub only makes sense when unknown syscalls would otherwise be refused.
  const allowByDefault = defaultAct === SECCOMP_RET.ALLOW || defaultAct === SECCOMP_RET.LOG || (defaultAct & 0xffff0000) === SECCOMP_RET.TRACE;

  const asm = new Assembler();
  const badArch = asm.label();
  const enosys = asm.label();
  let enosysUsed = false;
  const stub = (a: number) => {
    if (allowByDefault || maxNr[a]! < 0) return;
    asm.jump(BPF_JGT_K, maxNr[a]!, enosys);
    enosysUsed = true;
  };

  asm.load(OFF_ARCH);
  const audits = [...new Set(arches.map((a) => a.audit))];
  const archLabels = audits.map(() => asm.label());
  audits.forEach((audit, k) => asm.jump(BPF_JEQ_K, audit, archLabels[k]));
  asm.ret(SECCOMP_RET.KILL_THREAD);
  audits.forEach((audit, k) => {
    asm.place(archLabels[k]!);
    asm.load(OFF_NR);
    const main = arches.findIndex((a) => a.audit === audit && !a.x32);
    const x32 = arches.findIndex((a) => a.audit === audit && a.x32);
    const x32Label = x32 >= 0 ? asm.label() : undefined;
    // x32 shares x86_64's audit value: its numbers are told apart by X32_SYSCALL_BIT.
    if (audit === arches.find((a) => a.name === "SCMP_ARCH_X86_64")?.audit) asm.jump(BPF_JGE_K, X32_SYSCALL_BIT, x32Label ?? badArch);
    if (main >= 0) {
      stub(main);
      emitSyscalls(asm, perArch[main]!, defaultAct);
    }
    if (x32 >= 0) {
      asm.place(x32Label!);
      stub(x32);
      emitSyscalls(asm, perArch[x32]!, defaultAct);
    }
  });
  asm.place(badArch);
  asm.ret(SECCOMP_RET.KILL_THREAD);
  if (enosysUsed) {
    asm.place(enosys);
    asm.ret(SECCOMP_RET.ERRNO | ENOSYS);
  }

  const filter = asm.assemble();
  if (filter.length > BPF_MAXINSNS) {
    throw new ConfigError(`${field}/syscalls`, `the compiled filter has ${filter.length} instructions, more than the kernel's limit of ${BPF_MAXINSNS}`);
  }
  return {
    filter,
    flags,
    notify,
    ...(notify ? { listenerPath, listenerMetadata: profile.listenerMetadata } : {}),
    skipped,
  };
}

/** SECCOMP_RET_* value of an action; errnoRet only for ERRNO and TRACE (the spec says to fail otherwise). */
function actionValue(action: string, errnoRet: number | undefined, field: string, errnoField: string): number {
  if (errnoRet !== undefined) {
    if (action !== "SCMP_ACT_ERRNO" && action !== "SCMP_ACT_TRACE") {
      throw new ConfigError(errnoField, `only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not ${action}`);
    }
    if (!Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > MAX_ERRNO) {
      throw new ConfigError(errnoField, `${errnoRet} is not an errno (0 to ${MAX_ERRNO})`);
    }
  }
  switch (action) {
    case "SCMP_ACT_KILL": // libseccomp: SCMP_ACT_KILL is KILL_THREAD
    case "SCMP_ACT_KILL_THREAD":
      return SECCOMP_RET.KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return SECCOMP_RET.KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return SECCOMP_RET.TRAP;
    case "SCMP_ACT_ERRNO":
      return (SECCOMP_RET.ERRNO | (errnoRet ?? EPERM)) >>> 0;
    case "SCMP_ACT_TRACE":
      return (SECCOMP_RET.TRACE | (errnoRet ?? EPERM)) >>> 0;
    case "SCMP_ACT_ALLOW":
      return SECCOMP_RET.ALLOW;
    case "SCMP_ACT_LOG":
      return SECCOMP_RET.LOG;
    case "SCMP_ACT_NOTIFY":
      return SECCOMP_RET.USER_NOTIF;
    default:
      throw new ConfigError(field, `unknown action "${action}" (known: ${SECCOMP_ACTIONS.join(", ")})`);
  }
}

/** The rules one syscalls[] entry makes: one rule with its conditions ANDed, or, when an arg index
 *  repeats, one rule per condition (runc's fallback). */
function rulesOf(args: readonly LinuxSeccompArg[], action: number, at: string): Rule[] {
  const conds: Cond[] = args.map((a, k) => {
    const f = `${at}/args/${k}`;
    if (!(SECCOMP_OPERATORS as readonly string[]).includes(a.op)) {
      throw new ConfigError(`${f}/op`, `unknown operator "${a.op}" (known: ${SECCOMP_OPERATORS.join(", ")})`);
    }
    if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) throw new ConfigError(`${f}/index`, `${a.index} is not an argument index (0 to 5)`);
    return { index: a.index, op: a.op, value: u64(a.value, `${f}/value`), valueTwo: u64(a.valueTwo ?? 0, `${f}/valueTwo`) };
  });
  const repeated = conds.some((c, k) => conds.findIndex((d) => d.index === c.index) !== k);
  return repeated ? conds.map((c) => ({ action, conds: [c] })) : [{ action, conds }];
}

/** A JSON number as a u64. Above 2^53 JSON numbers are not exact; 2^64-1 arrives rounded up to 2^64. */
function u64(v: number, field: string): bigint {
  if (!Number.isInteger(v) || v < 0) throw new ConfigError(field, `${v} is not an unsigned 64-bit integer`);
  return v >= 2 ** 64 ? (1n << 64n) - 1n : BigInt(v);
}

/** The syscalls of one architecture; A holds the syscall number on entry. Ends with the default action. */
function emitSyscalls(asm: Assembler, rules: Map<number, SyscallRules>, defaultAct: number): void {
  const runs = new Map<number, number[]>();
  for (const [nr, r] of rules) {
    if (r.conditional.length || r.unconditional === undefined) continue;
    const list = runs.get(r.unconditional) ?? [];
    list.push(nr);
    runs.set(r.unconditional, list);
  }
  for (const [action, nrs] of runs) {
    for (let s = 0; s < nrs.length; s += RUN_MAX) {
      const chunk = nrs.slice(s, s + RUN_MAX);
      const hit = asm.label();
      const miss = asm.label();
      chunk.forEach((nr, k) => (k < chunk.length - 1 ? asm.jump(BPF_JEQ_K, nr, hit) : asm.jump(BPF_JEQ_K, nr, undefined, miss)));
      asm.place(hit);
      asm.ret(action);
      asm.place(miss);
    }
  }
  for (const [nr, r] of rules) {
    if (!r.conditional.length) continue;
    const other = asm.label();
    asm.jump(BPF_JEQ_K, nr, undefined, other);
    for (const rule of r.conditional) {
      const next = asm.label();
      for (const c of rule.conds) emitCondition(asm, c, next);
      asm.ret(rule.action);
      asm.place(next);
    }
    asm.ret(r.unconditional ?? defaultAct);
    // Every path into the block ends in a `ret`: A still holds the syscall number here.
    asm.place(other);
  }
  asm.ret(defaultAct);
}

/** Falls through when the condition holds, jumps to `fail` otherwise. Unsigned 64-bit comparisons
 *  from two 32-bit words (seccomp_data.args are u64, little-endian: low word first). */
function emitCondition(asm: Assembler, c: Cond, fail: Label): void {
  const lo = OFF_ARGS + 8 * c.index;
  const hi = lo + 4;
  const word = (v: bigint, high: boolean) => Number(high ? v >> 32n : v & 0xffffffffn);
  const vHi = word(c.value, true);
  const vLo = word(c.value, false);
  const pass = asm.label();
  switch (c.op) {
    case "SCMP_CMP_EQ":
      asm.load(hi);
      asm.jump(BPF_JEQ_K, vHi, undefined, fail);
      asm.load(lo);
      asm.jump(BPF_JEQ_K, vLo, undefined, fail);
      break;
    case "SCMP_CMP_NE":
      asm.load(hi);
      asm.jump(BPF_JEQ_K, vHi, undefined, pass);
      asm.load(lo);
      asm.jump(BPF_JEQ_K, vLo, fail, undefined);
      break;
    case "SCMP_CMP_GT": // hi > vHi, or hi == vHi and lo > vLo
    case "SCMP_CMP_GE": // hi > vHi, or hi == vHi and lo >= vLo
      asm.load(hi);
      asm.jump(BPF_JGT_K, vHi, pass, undefined);
      asm.jump(BPF_JEQ_K, vHi, undefined, fail);
      asm.load(lo);
      asm.jump(c.op === "SCMP_CMP_GT" ? BPF_JGT_K : BPF_JGE_K, vLo, undefined, fail);
      break;
    case "SCMP_CMP_LT": // not GE
    case "SCMP_CMP_LE": // not GT
      asm.load(hi);
      asm.jump(BPF_JGT_K, vHi, fail, undefined);
      asm.jump(BPF_JEQ_K, vHi, undefined, pass);
      asm.load(lo);
      asm.jump(c.op === "SCMP_CMP_LT" ? BPF_JGE_K : BPF_JGT_K, vLo, fail, undefined);
      break;
    case "SCMP_CMP_MASKED_EQ": // (arg & value) == valueTwo
      asm.load(hi);
      asm.and(vHi);
      asm.jump(BPF_JEQ_K, word(c.valueTwo, true), undefined, fail);
      asm.load(lo);
      asm.and(vLo);
      asm.jump(BPF_JEQ_K, word(c.valueTwo, false), undefined, fail);
      break;
  }
  asm.place(pass);
}
