import { ConfigError } from "../errors.js";

/**
 * Config fields this version of tsrun cannot honour yet. Each is refused with its path rather than
 * ignored, because ignoring it would run a container weaker than the config asks (spec-notes.md lists
 * them as "not yet").
 */
export function refuseUnsupported(spec: Record<string, any>): void {
  const linux = spec.linux ?? {};
  if (linux.intelRdt) throw new ConfigError("/linux/intelRdt", "Intel RDT is not supported by this version of tsrun");
  if (linux.memoryPolicy) throw new ConfigError("/linux/memoryPolicy", "memory policies are not supported by this version of tsrun");
}
