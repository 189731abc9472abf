/**
 * src/security: capability names -> bit masks, rlimit names -> numbers.
 */
import { CAPABILITIES, capabilityMask, capabilityNames } from "../../src/security/capabilities.js";
import { rlimitNumber } from "../../src/security/rlimits.js";
import { fieldOf } from "../helpers/config-error.js";

describe("capabilityMask", () => {
  test("kernel numbers of well-known capabilities", () => {
    const bit = (name: string): bigint => capabilityMask([name], "/f");
    expect(bit("CAP_CHOWN")).toBe(1n << 0n);
    expect(bit("CAP_KILL")).toBe(1n << 5n);
    expect(bit("CAP_NET_BIND_SERVICE")).toBe(1n << 10n);
    expect(bit("CAP_NET_RAW")).toBe(1n << 13n);
    expect(bit("CAP_SYS_CHROOT")).toBe(1n << 18n);
    expect(bit("CAP_SYS_ADMIN")).toBe(1n << 21n);
    expect(bit("CAP_SYS_RESOURCE")).toBe(1n << 24n);
    expect(bit("CAP_MKNOD")).toBe(1n << 27n);
    expect(bit("CAP_AUDIT_WRITE")).toBe(1n << 29n);
    expect(bit("CAP_SETFCAP")).toBe(1n << 31n);
    expect(bit("CAP_SYSLOG")).toBe(1n << 34n);
    expect(bit("CAP_BPF")).toBe(1n << 39n);
    expect(bit("CAP_CHECKPOINT_RESTORE")).toBe(1n << 40n);
    expect(CAPABILITIES.length).toBe(41);
  });

  test("a set is the OR of its members; duplicates are harmless; empty/absent is 0", () => {
    expect(capabilityMask(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_KILL"], "/f")).toBe((1n << 29n) | (1n << 5n) | (1n << 10n));
    expect(capabilityMask([], "/f")).toBe(0n);
    expect(capabilityMask(undefined, "/f")).toBe(0n);
  });

  test("an unknown name is refused with the path of the entry", () => {
    expect(fieldOf(() => capabilityMask(["CAP_KILL", "CAP_FLY"], "/process/capabilities/effective"))).toBe("/process/capabilities/effective/1");
    // names are case-sensitive and need the CAP_ prefix, as in the spec
    expect(fieldOf(() => capabilityMask(["KILL"], "/process/capabilities/bounding"))).toBe("/process/capabilities/bounding/0");
    expect(fieldOf(() => capabilityMask(["cap_kill"], "/x"))).toBe("/x/0");
  });

  test("capabilityNames turns a mask back into names", () => {
    expect(capabilityNames((1n << 24n) | (1n << 0n))).toEqual(["CAP_CHOWN", "CAP_SYS_RESOURCE"]);
    expect(capabilityNames(0n)).toEqual([]);
    expect(capabilityNames(capabilityMask(CAPABILITIES, "/f"))).toEqual([...CAPABILITIES]);
  });
});

describe("rlimitNumber", () => {
  test.each([
    ["RLIMIT_CPU", 0], ["RLIMIT_FSIZE", 1], ["RLIMIT_DATA", 2], ["RLIMIT_STACK", 3], ["RLIMIT_CORE", 4],
    ["RLIMIT_RSS", 5], ["RLIMIT_NPROC", 6], ["RLIMIT_NOFILE", 7], ["RLIMIT_MEMLOCK", 8], ["RLIMIT_AS", 9],
    ["RLIMIT_LOCKS", 10], ["RLIMIT_SIGPENDING", 11], ["RLIMIT_MSGQUEUE", 12], ["RLIMIT_NICE", 13],
    ["RLIMIT_RTPRIO", 14], ["RLIMIT_RTTIME", 15],
  ])("%s is %d", (name, n) => {
    expect(rlimitNumber(name, "/f")).toBe(n);
  });

  test("an unknown name is refused with the given path", () => {
    expect(fieldOf(() => rlimitNumber("RLIMIT_BOGUS", "/process/rlimits/2/type"))).toBe("/process/rlimits/2/type");
    expect(fieldOf(() => rlimitNumber("NOFILE", "/process/rlimits/0/type"))).toBe("/process/rlimits/0/type");
  });
});
