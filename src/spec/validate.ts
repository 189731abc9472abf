/**
 * Validation of config.json (and of the process / resources documents that `exec` and `update` read).
 *
 * Two passes:
 *   1. the JSON Schema (schemas/*.schema.json), precompiled at build time into
 *      ./generated/validate-config.js by src/build/gen-validator.mjs: nothing is compiled at call time;
 *   2. semantic checks the schema cannot express (duplicates, cross-field rules), below.
 * The first problem found is thrown as a ConfigError naming its JSON path, e.g. `/process/user/uid`.
 */
import { ConfigError } from "../errors.js";
import {
  validateConfig,
  validateProcess as schemaProcess,
  validateResources as schemaResources,
  patternNames,
  type ValidateFunction,
  type ValidationError,
} from "./generated/validate-config.js";
import type { LinuxResources, Process, Spec } from "./types.js";

/** Human wording for each patterned definition of the schemas (keyed by definition name). */
const PATTERN_DETAIL: Record<string, string> = {
  OciVersion: "must be a SemVer version such as 1.0.2",
  RlimitType: "must be an RLIMIT_* name such as RLIMIT_NOFILE",
  SeccompArch: "must be an SCMP_ARCH_* name such as SCMP_ARCH_X86_64",
  SeccompFlag: "must be a SECCOMP_FILTER_FLAG_* name",
  HugepageSize: "must be a page size such as 2MB or 1GB",
  DeviceAccess: "must be a combination of r, w and m",
  MemBwSchema: "must start with MB: and be a single line",
  AbsolutePath: "must be an absolute path",
  NonEmptyString: "must not be empty",
  CpuList: "must be a list such as 0-3,7",
  Capability: "must be a capability name such as CAP_CHOWN",
  IPAddress: "must be an IPv4 or IPv6 address",
  CIDR: "must be an address with a prefix length, such as 10.88.0.2/16 or fd00::2/64",
  MACAddress: "must be a MAC address such as 02:42:ac:11:00:02",
  InterfaceName: "must be an interface name of 1 to 15 characters without / or :",
  HostName: "must be a name without white space",
};

function escapePointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

function describe(err: ValidationError): string {
  const p = err.params;
  switch (err.keyword) {
    case "type":
      return `must be ${String(p.type)}`;
    case "enum":
      return `must be one of: ${(p.allowedValues as unknown[]).map(String).join(", ")}`;
    case "const":
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case "pattern": {
      const name = patternNames[String(p.pattern)];
      return (name && PATTERN_DETAIL[name]) || `must match the pattern ${String(p.pattern)}`;
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return `must be ${String(p.comparison)} ${String(p.limit)}`;
    case "minItems":
      return `must have at least ${String(p.limit)} ${p.limit === 1 ? "entry" : "entries"}`;
    case "maxItems":
      return `must have at most ${String(p.limit)} entries`;
    default:
      return err.message ?? `is invalid (${err.keyword})`;
  }
}

/** Turns the ajv errors of one failed validation into a ConfigError (the first problem). */
function schemaError(errors: ValidationError[] | null | undefined, basePath: string): ConfigError {
  const list = errors ?? [];
  // anyOf of `required` branches ("at least one of weight, leafWeight"): report the anyOf as a whole.
  const anyOf = list.find((e) => e.keyword === "anyOf");
  if (anyOf) {
    const names = list
      .filter((e) => e.keyword === "required" && e.instancePath === anyOf.instancePath)
      .map((e) => String(e.params.missingProperty));
    if (names.length > 0) {
      return new ConfigError(basePath + anyOf.instancePath, `must have at least one of: ${names.join(", ")}`);
    }
  }
  // propertyNames: the key's own error comes first, then one naming the key.
  const names = list.find((e) => e.keyword === "propertyNames");
  if (names) {
    const inner = list.find((e) => e !== names && e.instancePath === names.instancePath);
    const detail = inner ? describe(inner) : "is not allowed";
    return new ConfigError(basePath + names.instancePath, `key ${JSON.stringify(names.params.propertyName)} ${detail}`);
  }
  const err = list.find((e) => e.keyword !== "if" && e.keyword !== "anyOf") ?? list[0];
  if (!err) return new ConfigError(basePath, "is invalid");
  const at = basePath + err.instancePath;
  switch (err.keyword) {
    case "required":
      return new ConfigError(`${at}/${escapePointer(String(err.params.missingProperty))}`, "is required");
    case "dependencies":
      return new ConfigError(
        `${at}/${escapePointer(String(err.params.missingProperty))}`,
        `is required when ${String(err.params.property)} is set`,
      );
    default:
      return new ConfigError(at, describe(err));
  }
}

function runSchema(fn: ValidateFunction, raw: unknown, basePath: string): void {
  if (!fn(raw)) throw schemaError(fn.errors, basePath);
}

// ------------------------------------------------------------------------------------- semantic checks

function checkRlimits(process: Process, base: string): void {
  const seen = new Set<string>();
  process.rlimits?.forEach((r, i) => {
    if (seen.has(r.type)) throw new ConfigError(`${base}/rlimits/${i}/type`, `duplicate rlimit ${r.type}`);
    seen.add(r.type);
    if (r.soft > r.hard) {
      throw new ConfigError(`${base}/rlimits/${i}/soft`, `soft limit ${r.soft} is above the hard limit ${r.hard}`);
    }
  });
}

const TIME_CLOCKS = new Set(["monotonic", "boottime"]);

function checkSemantics(spec: Spec): void {
  const major = Number(spec.ociVersion.split(".")[0]);
  if (major !== 1) {
    throw new ConfigError("/ociVersion", `unsupported version ${spec.ociVersion}: tsrun supports runtime-spec 1.x`);
  }

  if (spec.process) checkRlimits(spec.process, "/process");

  // Relative mount destinations are deprecated; the spec says to take them relative to "/". Normalize here
  // (as runc does) so that every later stage sees absolute destinations.
  spec.mounts?.forEach((m) => {
    if (!m.destination.startsWith("/")) m.destination = `/${m.destination}`;
  });

  const linux = spec.linux;
  const ns = new Map<string, { index: number; path?: string }>();
  linux?.namespaces?.forEach((n, i) => {
    if (ns.has(n.type)) {
      throw new ConfigError(`/linux/namespaces/${i}/type`, `duplicate namespace type "${n.type}"`);
    }
    ns.set(n.type, { index: i, path: n.path });
  });

  // User namespace and id mappings (runc's rules: mappings need a user namespace; a new one needs both).
  const userns = ns.get("user");
  const hasUid = (linux?.uidMappings?.length ?? 0) > 0;
  const hasGid = (linux?.gidMappings?.length ?? 0) > 0;
  if (!userns && (hasUid || hasGid)) {
    throw new ConfigError(
      hasUid ? "/linux/uidMappings" : "/linux/gidMappings",
      'needs a user namespace (linux.namespaces has no "user" entry)',
    );
  }
  if (userns && userns.path === undefined) {
    if (!hasUid) throw new ConfigError("/linux/uidMappings", "is required when a new user namespace is created");
    if (!hasGid) throw new ConfigError("/linux/gidMappings", "is required when a new user namespace is created");
  }

  // Time namespace offsets can only be written into a namespace tsrun creates.
  const offsets = linux?.timeOffsets;
  if (offsets && Object.keys(offsets).length > 0) {
    const timens = ns.get("time");
    if (!timens) throw new ConfigError("/linux/timeOffsets", 'needs a new time namespace (no "time" entry in linux.namespaces)');
    if (timens.path !== undefined) {
      throw new ConfigError("/linux/timeOffsets", "cannot be set when joining an existing time namespace (path is set)");
    }
    for (const clock of Object.keys(offsets)) {
      if (!TIME_CLOCKS.has(clock)) {
        throw new ConfigError(`/linux/timeOffsets/${escapePointer(clock)}`, "clock must be one of: monotonic, boottime");
      }
    }
  }

  // Setting the host name without a UTS namespace would change the host's (runc refuses too).
  const uts = ns.get("uts");
  for (const field of ["hostname", "domainname"] as const) {
    if (spec[field] !== undefined && spec[field] !== "" && !uts) {
      throw new ConfigError(`/${field}`, 'needs a UTS namespace (linux.namespaces has no "uts" entry)');
    }
  }

  const seccomp = linux?.seccomp;
  if (seccomp?.listenerMetadata !== undefined && seccomp.listenerPath === undefined) {
    throw new ConfigError("/linux/seccomp/listenerMetadata", "must not be set without listenerPath");
  }
}

// ---------------------------------------------------------------------------------------------- exports

/** Validates a parsed config.json; returns it typed (mount destinations normalized to absolute). */
export function validateSpec(raw: unknown): Spec {
  runSchema(validateConfig, raw, "");
  const spec = raw as Spec;
  checkSemantics(spec);
  return spec;
}

/**
 * Validates a single process object (`exec --process`); `basePath` prefixes error paths (e.g. "/process").
 * Without `user` the process runs as root (uid 0, gid 0), as runc reads such a file.
 */
export function validateProcess(raw: unknown, basePath = ""): Process {
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw) && !("user" in raw)) {
    (raw as { user: Process["user"] }).user = { uid: 0, gid: 0 };
  }
  runSchema(schemaProcess, raw, basePath);
  const process = raw as Process;
  checkRlimits(process, basePath);
  return process;
}

/** Validates a single LinuxResources object (`update --resources`). */
export function validateResources(raw: unknown, basePath = ""): LinuxResources {
  runSchema(schemaResources, raw, basePath);
  return raw as LinuxResources;
}
