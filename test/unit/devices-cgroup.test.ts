/**
 * Device rules (src/cgroups/devices-*.ts): the rule list, the v1 devices.allow/deny lines and the v2
 * eBPF program, each checked against the reference decision `decide`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../src/errors.js";
import { ACCESS_BIT, BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR, type Insn, OP, deviceProgram, encodeInsns } from "../../src/cgroups/devices-bpf.js";
import { DEFAULT_DEVICE_RULES, type DeviceRule, WILDCARD, containerDeviceRules, decide, normalizeRule } from "../../src/cgroups/devices-rules.js";
import { deviceTransitionV1, parseDevicesList, sameDevicesState } from "../../src/cgroups/devices-v1.js";
import type { LinuxDeviceCgroup } from "../../src/spec/types.js";
import { EXAMPLES } from "../helpers/examples.js";

// The project's shared example configs (next to the repository, as test/unit/spec.test.ts finds them).

/** Decode struct bpf_insn bytes (the inverse of encodeInsns, written from the kernel's layout). */
function decode(b: Buffer): Insn[] {
  const out: Insn[] = [];
  for (let i = 0; i < b.length; i += 8) {
    out.push({ code: b[i], dst: b[i + 1] & 0xf, src: b[i + 1] >> 4, off: b.readInt16LE(i + 2), imm: b.readInt32LE(i + 4) });
  }
  return out;
}

/**
 * A tiny eBPF interpreter for the instructions the encoder emits, run on a cgroup device context.
 * It also checks what the verifier would: known opcodes, jumps inside the program, every instruction
 * reachable, no fall-through off the end.
 */
function run(prog: Insn[], type: "c" | "b", major: number, minor: number, access: string): boolean {
  const acc = [...access].reduce((a, c) => a | ACCESS_BIT[c], 0);
  const ctx = [(acc << 16) | (type === "c" ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK), major, minor];
  const reg = new Array<bigint | undefined>(11).fill(undefined);
  reg[1] = -1n; // the context pointer: only ever used as the LDX base
  const get = (r: number) => {
    if (reg[r] === undefined) throw new Error(`read of uninitialized r${r}`);
    return reg[r]!;
  };
  const imm = (x: Insn) => BigInt.asUintN(64, BigInt(x.imm)); // sign-extended to 64 bits, as the kernel does
  for (let pc = 0, steps = 0; ; pc++, steps++) {
    if (pc < 0 || pc >= prog.length) throw new Error(`pc ${pc} outside the program`);
    if (steps > 100_000) throw new Error("loop");
    const x = prog[pc];
    switch (x.code) {
      case OP.LDXW:
        if (x.src !== 1 || get(1) !== -1n || x.off % 4 || x.off < 0 || x.off > 8) throw new Error(`bad context load at ${pc}`);
        reg[x.dst] = BigInt(ctx[x.off / 4] >>> 0);
        break;
      case OP.MOV_REG: reg[x.dst] = get(x.src); break;
      case OP.MOV_IMM: reg[x.dst] = imm(x); break;
      case OP.AND_IMM: reg[x.dst] = get(x.dst) & imm(x); break;
      case OP.RSH_IMM: reg[x.dst] = get(x.dst) >> BigInt(x.imm); break;
      case OP.JA: pc += x.off; break;
      case OP.JEQ_IMM: if (get(x.dst) === imm(x)) pc += x.off; break;
      case OP.JNE_IMM: if (get(x.dst) !== imm(x)) pc += x.off; break;
      case OP.EXIT: {
        const r0 = get(0);
        if (r0 !== 0n && r0 !== 1n) throw new Error(`returns ${r0}`);
        return r0 === 1n;
      }
      default: throw new Error(`unknown opcode 0x${x.code.toString(16)} at ${pc}`);
    }
  }
}

/** Every instruction is the target of a fall-through or a jump (the verifier refuses dead code). */
function checkReachable(prog: Insn[]): void {
  const seen = new Set<number>();
  const todo = [0];
  while (todo.length) {
    const pc = todo.pop()!;
    if (seen.has(pc)) continue;
    expect(pc).toBeGreaterThanOrEqual(0);
    expect(pc).toBeLessThan(prog.length);
    seen.add(pc);
    const x = prog[pc];
    if (x.code === OP.EXIT) continue;
    if (x.code === OP.JA) todo.push(pc + 1 + x.off);
    else {
      todo.push(pc + 1);
      if (x.code === OP.JEQ_IMM || x.code === OP.JNE_IMM) todo.push(pc + 1 + x.off);
    }
  }
  expect(seen.size).toBe(prog.length);
}

/**
 * What a v1 devices cgroup does with the writes (kernel semantics, security/device_cgroup.c): "a" sets
 * the default and clears the exceptions; other lines add (on the other side) or remove exactly-keyed
 * exceptions; default deny needs one exception covering every asked bit, default allow refuses when
 * any exception shares a bit.
 */
interface KernelState {
  allowAll: boolean;
  ex: { type: string; major: string; minor: string; acc: string }[];
}

function v1KernelState(writes: { file: string; line: string }[], start: KernelState = { allowAll: true, ex: [] }): KernelState {
  let allowAll = start.allowAll;
  let ex = start.ex.map((e) => ({ ...e }));
  for (const w of writes) {
    const isAllow = w.file === "devices.allow";
    if (w.line === "a") {
      allowAll = isAllow;
      ex = [];
      continue;
    }
    const [t, mm, acc] = w.line.split(" ");
    const [ma, mi] = mm.split(":");
    const same = ex.find((e) => e.type === t && e.major === ma && e.minor === mi);
    if (isAllow !== allowAll) {
      if (same) same.acc = [...new Set([...same.acc, ...acc])].join("");
      else ex.push({ type: t, major: ma, minor: mi, acc });
    } else if (same) {
      same.acc = [...same.acc].filter((c) => !acc.includes(c)).join("");
      ex = ex.filter((e) => e.acc);
    }
  }
  return { allowAll, ex };
}

function judge({ allowAll, ex }: KernelState, type: "c" | "b", major: number, minor: number, access: string): boolean {
  const hits = ex.filter((e) => (e.type === "a" || e.type === type) && (e.major === "*" || e.major === String(major)) && (e.minor === "*" || e.minor === String(minor)));
  if (allowAll) return !hits.some((e) => [...access].some((c) => e.acc.includes(c)));
  return hits.some((e) => [...access].every((c) => e.acc.includes(c)));
}

/** devices.list as the kernel prints the state (allow-all mode: "a *:* rwm" alone). */
function listText({ allowAll, ex }: KernelState): string {
  if (allowAll) return "a *:* rwm\n";
  return ex.map((e) => `${e.type} ${e.major}:${e.minor} ${["r", "w", "m"].filter((c) => e.acc.includes(c)).join("")}\n`).join("");
}

function v1Kernel(writes: { file: string; line: string }[], type: "c" | "b", major: number, minor: number, access: string): boolean {
  return judge(v1KernelState(writes), type, major, minor, access);
}

const rule = (allow: boolean, type: "a" | "c" | "b", major: number, minor: number, access: string): DeviceRule => ({ allow, type, major, minor, access, source: "test" });

/** Devices and accesses to try: the defaults, neighbours, wildcards' members, block devices. */
const SAMPLES: ["c" | "b", number, number][] = [
  ["c", 1, 3], ["c", 1, 5], ["c", 1, 1], ["c", 1, 11], ["c", 5, 0], ["c", 5, 1], ["c", 5, 2], ["c", 136, 0], ["c", 136, 7],
  ["c", 10, 200], ["c", 10, 229], ["c", 4, 1], ["c", 0, 0], ["b", 8, 0], ["b", 7, 3], ["b", 1, 5], ["c", 254, 0x7fffffff],
];
const ACCESSES = ["r", "w", "m", "rw", "rm", "wm", "rwm"];

function checkAll(rules: DeviceRule[], v1 = true): void {
  const prog = deviceProgram(rules);
  checkReachable(prog);
  const decoded = decode(encodeInsns(prog));
  expect(decoded).toEqual(prog);
  const { writes } = v1 ? deviceTransitionV1(rules) : { writes: [] };
  for (const [t, ma, mi] of SAMPLES) {
    for (const acc of ACCESSES) {
      const want = decide(rules, t, ma, mi, acc);
      const label = `${t} ${ma}:${mi} ${acc}`;
      expect([label, run(decoded, t, ma, mi, acc)]).toEqual([label, want]);
      if (v1) expect([label, v1Kernel(writes, t, ma, mi, acc)]).toEqual([label, want]);
    }
  }
}

const cfg = (r: LinuxDeviceCgroup[]) => containerDeviceRules(r);

describe("device rules", () => {
  test("normalization: absent fields are wildcards / all / rwm; access ordered", () => {
    expect(normalizeRule({ allow: false }, "/p")).toEqual({ allow: false, type: "a", major: WILDCARD, minor: WILDCARD, access: "rwm", source: "/p" });
    expect(normalizeRule({ allow: true, type: "c", major: 1, minor: -1, access: "mr" }, "/p")).toMatchObject({ major: 1, minor: WILDCARD, access: "rm" });
  });

  test("bad rules name their JSON path", () => {
    const field = (d: unknown) => {
      try {
        containerDeviceRules([{ allow: true }, d as LinuxDeviceCgroup]);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).field;
      }
      return "";
    };
    expect(field({ allow: true, type: "x" })).toBe("/linux/resources/devices/1/type");
    expect(field({ allow: true, access: "rwx" })).toBe("/linux/resources/devices/1/access");
    expect(field({ allow: true, access: "" })).toBe("/linux/resources/devices/1/access");
    expect(field({ allow: true, major: -2 })).toBe("/linux/resources/devices/1/major");
    expect(field({ allow: true, minor: 2 ** 31 })).toBe("/linux/resources/devices/1/minor");
    expect(field({ allow: "yes" })).toBe("/linux/resources/devices/1/allow");
  });

  test("linux.devices nodes get no rule; runc's defaults come last, less those whose path a node names", () => {
    const rules = containerDeviceRules([{ allow: false, access: "rwm" }], [
      { type: "c", path: "/dev/kmsg", major: 1, minor: 11 },
      { type: "c", path: "/dev/null", major: 1, minor: 3 },
      { type: "c", path: "/dev/ptmx", major: 5, minor: 2 }, // ptmx's default rule has no path: kept
      { type: "p", path: "/dev/fifo" },
    ]);
    expect(rules[0]).toMatchObject({ allow: false, type: "a", source: "/linux/resources/devices/0" });
    expect(rules.slice(1)).toEqual(DEFAULT_DEVICE_RULES.filter((r) => !(r.major === 1 && r.minor === 3)));
    expect(decide(rules, "c", 1, 11, "w")).toBe(false); // made in /dev, not allowed: as runc
    expect(decide(rules, "c", 1, 3, "w")).toBe(false); // runc drops the /dev/null default too
    expect(decide(rules, "c", 5, 2, "rw")).toBe(true);
    expect(decide(rules, "c", 1, 11, "m")).toBe(true); // mknod of any char device stays allowed
  });

  test("reference decisions: deny-all plus defaults; the defaults cannot be denied (runc)", () => {
    const rules = cfg([{ allow: false, access: "rwm" }, { allow: false, type: "c", major: 1, minor: 5, access: "rwm" }]);
    expect(decide(rules, "c", 1, 3, "rw")).toBe(true);
    expect(decide(rules, "c", 1, 5, "rw")).toBe(true); // /dev/zero: a default, appended after the config
    expect(decide(rules, "c", 1, 11, "r")).toBe(false);
    expect(decide(rules, "c", 1, 11, "m")).toBe(true); // mknod of any char device
    expect(decide(rules, "b", 8, 0, "rw")).toBe(false);
    expect(decide(rules, "c", 136, 4, "rw")).toBe(true);
  });

  test("per-bit, last match wins", () => {
    const rules = [rule(true, "c", 1, WILDCARD, "r"), rule(true, "c", 1, 11, "w"), rule(false, "a", WILDCARD, WILDCARD, "w"), rule(true, "c", 1, 12, "w")];
    expect(decide(rules, "c", 1, 11, "r")).toBe(true);
    expect(decide(rules, "c", 1, 11, "rw")).toBe(false); // w denied by the later "a *:* w"
    expect(decide(rules, "c", 1, 12, "rw")).toBe(true);
    expect(decide(rules, "c", 2, 12, "r")).toBe(false);
  });
});

describe("v1 lines", () => {
  test("deny-all config: a to deny, then the allows", () => {
    const { writes } = deviceTransitionV1([rule(false, "a", WILDCARD, WILDCARD, "rwm"), rule(true, "c", 1, 3, "rwm"), rule(true, "c", 136, WILDCARD, "rw")]);
    expect(writes).toEqual([
      { file: "devices.deny", line: "a" },
      { file: "devices.allow", line: "c 1:3 rwm" },
      { file: "devices.allow", line: "c 136:* rw" },
    ]);
  });

  test("allow-all config: a to allow, then the denies", () => {
    const { writes } = deviceTransitionV1([rule(true, "a", WILDCARD, WILDCARD, "rwm"), rule(false, "b", 8, WILDCARD, "rw"), rule(false, "a", 4, 1, "w")]);
    expect(writes).toEqual([
      { file: "devices.deny", line: "a" },
      { file: "devices.allow", line: "a" },
      { file: "devices.deny", line: "b 8:* rw" },
      { file: "devices.deny", line: "c 4:1 w" },
      { file: "devices.deny", line: "b 4:1 w" },
    ]);
  });

  test("a deny inside an earlier wider allow is an error naming the rule", () => {
    const rules = cfg([{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 4, access: "rw" }, { allow: false, type: "c", major: 4, minor: 1, access: "w" }]);
    expect(() => deviceTransitionV1(rules)).toThrow(expect.objectContaining({ field: "/linux/resources/devices/2" }));
  });

  test("an allow inside a wider deny stays denied, with a warning", () => {
    const { warnings } = deviceTransitionV1([rule(true, "a", WILDCARD, WILDCARD, "rwm"), rule(false, "c", 1, WILDCARD, "rwm"), ...DEFAULT_DEVICE_RULES]);
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings[0]).toContain("stays denied");
  });
});

describe("v1 transitions (update applies the rules again to a live cgroup)", () => {
  const DENY_ALL = { allow: false, access: "rwm" };
  const kmsg = cfg([DENY_ALL, { allow: true, type: "c", major: 1, minor: 11, access: "rw" }]);
  const fuse = cfg([DENY_ALL, { allow: true, type: "c", major: 10, minor: 229, access: "rw" }, { allow: true, type: "b", major: 7, access: "r" }]);
  const allowAll = cfg([{ allow: true, access: "rwm" }, { allow: false, type: "c", major: 1, minor: 11, access: "rw" }]);

  /** Kernel state after a create's writes of `rules` into a fresh cgroup. */
  const created = (rules: DeviceRule[]) => v1KernelState(deviceTransitionV1(rules).writes);

  /** Transition from `from` to `to` through the kernel model: every step stays within what one of them allows. */
  function step(from: DeviceRule[], to: DeviceRule[]) {
    const start = created(from);
    const t = deviceTransitionV1(to, parseDevicesList(listText(start)));
    for (let n = 0; n <= t.writes.length; n++) {
      const mid = v1KernelState(t.writes.slice(0, n), start);
      for (const [ty, ma, mi] of SAMPLES) {
        for (const acc of ACCESSES) {
          const label = `${ty} ${ma}:${mi} ${acc} after ${n} writes`;
          if (!t.disruptive) expect([label, judge(mid, ty, ma, mi, acc) && !decide(from, ty, ma, mi, acc) && !decide(to, ty, ma, mi, acc)]).toEqual([label, false]);
          if (n === t.writes.length) expect([label, judge(mid, ty, ma, mi, acc)]).toEqual([label, decide(to, ty, ma, mi, acc)]);
        }
      }
    }
    return t;
  }

  test("devices.list is read as the kernel prints it", () => {
    expect(parseDevicesList("a *:* rwm\n")).toEqual({ defaultAllow: true });
    const s = parseDevicesList("c 1:3 rwm\nc 136:* rw\nb *:* m\n");
    expect(s.defaultAllow).toBe(false);
    expect(s.exceptions!.map((e) => [e.type, e.major, e.minor, [...e.bits].join("")])).toEqual([["c", 1, 3, "rwm"], ["c", 136, WILDCARD, "rw"], ["b", WILDCARD, WILDCARD, "m"]]);
    expect(parseDevicesList("")).toEqual({ defaultAllow: false, exceptions: [] });
  });

  test("the same rules again: nothing is written (deny-all); only the denies, merged, without an \"a\" (allow-all)", () => {
    const same = step(kmsg, kmsg);
    expect(same.writes).toEqual([]);
    expect(sameDevicesState(parseDevicesList(listText(created(kmsg))), same.target)).toBe(true);
    const again = step(allowAll, allowAll);
    expect(again.disruptive).toBe(false);
    expect(again.writes.every((w) => w.file === "devices.deny" && w.line !== "a")).toBe(true);
  });

  test("other rules with the same default: drops first, then additions; never a device both deny", () => {
    const t = step(kmsg, fuse);
    expect(t.disruptive).toBe(false);
    // (the exception carries the m of the wider default "c *:* m": the kernel wants one exception per access)
    expect(t.writes[0]).toEqual({ file: "devices.deny", line: "c 1:11 rwm" });
    expect(t.writes.at(-1)?.file).toBe("devices.allow");
    step(fuse, kmsg);
  });

  test("a change of default is disruptive (made frozen on a live cgroup)", () => {
    expect(step(kmsg, allowAll).disruptive).toBe(true);
    expect(step(allowAll, kmsg).disruptive).toBe(true);
  });
});

describe("v1 lines and the eBPF program agree with the reference", () => {
  const cases: [string, DeviceRule[]][] = [
    ["defaults only", cfg([])],
    ["deny all + defaults", cfg([{ allow: false, access: "rwm" }])],
    ["deny zero (overridden by the defaults)", cfg([{ allow: false, access: "rwm" }, { allow: false, type: "c", major: 1, minor: 5, access: "rwm" }])],
    ["allow list", cfg([{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 11, access: "w" }, { allow: true, type: "b", major: 7, access: "r" }])],
    ["allow all then denies", cfg([{ allow: true, access: "rwm" }, { allow: false, type: "b", access: "rw" }, { allow: false, type: "c", major: 10, minor: 229, access: "r" }])],
    ["split bits", [rule(false, "a", WILDCARD, WILDCARD, "rwm"), rule(true, "c", 1, WILDCARD, "r"), rule(true, "c", 1, 11, "w")]],
    ["type a with numbers", [rule(true, "a", 1, 5, "rw"), rule(false, "a", 7, WILDCARD, "m")]],
    ["no rules", []],
  ];
  for (const [name, rules] of cases) test(name, () => checkAll(rules));

  test("the eBPF program also handles what v1 cannot say", () => {
    checkAll([rule(false, "a", WILDCARD, WILDCARD, "rwm"), rule(true, "c", 4, WILDCARD, "rw"), rule(false, "c", 4, 1, "w"), rule(true, "a", WILDCARD, WILDCARD, "m")], false);
  });

  for (const f of ["podman-config.json", "containerd-config.json"]) {
    test(`example ${f}`, () => {
      const spec = JSON.parse(readFileSync(join(EXAMPLES, f), "utf8"));
      checkAll(containerDeviceRules(spec.linux.resources.devices, spec.linux.devices));
    });
  }
});
