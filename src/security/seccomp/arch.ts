/**
 * Seccomp architectures: the SCMP_ARCH_* names of a profile, mapped to the AUDIT_ARCH_* value the kernel
 * puts in seccomp_data.arch and to the syscall table generated from the kernel headers at build time.
 */
import { SYSCALL_TABLES, X32_SYSCALL_BIT } from "./generated/syscalls.js";

export { X32_SYSCALL_BIT };

/** An architecture tsrun can filter: the x86 ABIs whose headers this build was made with. */
export interface FilterArch {
  name: string;
  /** AUDIT_ARCH_* (linux/audit.h): EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE. */
  audit: number;
  /** x32 shares x86_64's audit value; its syscall numbers carry X32_SYSCALL_BIT. */
  x32: boolean;
  syscalls: Readonly<Record<string, number>>;
}

const AUDIT_ARCH_X86_64 = 0xc000003e; // EM_X86_64 (62) | 64BIT | LE
const AUDIT_ARCH_I386 = 0x40000003; // EM_386 (3) | LE

/** The native architecture: libseccomp always adds it to a filter, and so does tsrun. */
export const NATIVE_ARCH = "SCMP_ARCH_X86_64";

const KNOWN: Record<string, { audit: number; x32: boolean; table: "x86_64" | "x86" | "x32" }> = {
  SCMP_ARCH_X86_64: { audit: AUDIT_ARCH_X86_64, x32: false, table: "x86_64" },
  SCMP_ARCH_X86: { audit: AUDIT_ARCH_I386, x32: false, table: "x86" },
  SCMP_ARCH_X32: { audit: AUDIT_ARCH_X86_64, x32: true, table: "x32" },
};

/** Architectures libseccomp knows that no process on this host can run: accepted in a profile (Docker
 *  lists several per platform) and skipped, as libseccomp skips an architecture it cannot add. */
const FOREIGN = new Set(
  [
    "ARM", "AARCH64", "LOONGARCH64", "M68K", "MIPS", "MIPS64", "MIPS64N32", "MIPSEL", "MIPSEL64", "MIPSEL64N32",
    "PPC", "PPC64", "PPC64LE", "S390", "S390X", "PARISC", "PARISC64", "RISCV64", "SH", "SHEB",
  ].map((a) => `SCMP_ARCH_${a}`),
);

/** The architectures this build can filter (those with a generated syscall table). */
export function filterArchNames(): string[] {
  return Object.keys(KNOWN).filter((n) => SYSCALL_TABLES[KNOWN[n]!.table] !== undefined);
}

/** An SCMP_ARCH_* name: the architecture to filter, "foreign" (skipped), or undefined (unknown name). */
export function lookupArch(name: string): FilterArch | "foreign" | undefined {
  const k = KNOWN[name];
  if (k) {
    const syscalls = SYSCALL_TABLES[k.table];
    return syscalls ? { name, audit: k.audit, x32: k.x32, syscalls } : "foreign";
  }
  return FOREIGN.has(name) ? "foreign" : undefined;
}
