import { UsageError } from "../errors.js";

/** One flag of a verb. `short` is a one-letter alias (-b); long names may also be given with one dash (-bundle), as runc allows. */
export interface FlagSpec {
  name: string;
  short?: string;
  /** A boolean flag takes no value (--force, --force=false); a string flag takes one (--bundle B, --bundle=B);
   *  a list flag takes one each time it is given (-e A=1 -e B=2) and collects them in order. */
  kind: "boolean" | "string" | "list";
  description: string;
  placeholder?: string;
}

export interface PositionalSpec {
  name: string;
  required: boolean;
  /** The last positional may take every remaining argument (`ps <id> [ps-args...]`). */
  variadic?: boolean;
}

export interface VerbSpec {
  name: string;
  aliases?: string[];
  description: string;
  flags: FlagSpec[];
  positionals: PositionalSpec[];
  examples?: [what: string, command: string][];
  /** Flags end at the first positional: what follows the id is a command with flags of its own
   *  (`exec <id> ls -l`), as runc reads exec's arguments. */
  flagsBeforePositionals?: boolean;
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | undefined>;
  /** Values of list flags, in the order given (absent when the flag was not given). */
  lists: Record<string, string[]>;
  positionals: string[];
  help: boolean;
}

/** Parse a verb's arguments (flags anywhere before `--`, then positionals). Pure. */
export function parseVerbArgs(spec: VerbSpec, argv: readonly string[]): ParsedArgs {
  const flags: ParsedArgs["flags"] = {};
  const lists: ParsedArgs["lists"] = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (!arg.startsWith("-") || arg === "-") {
      if (spec.flagsBeforePositionals) {
        positionals.push(...argv.slice(i));
        break;
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const key = (eq > 0 ? arg.slice(0, eq) : arg).replace(/^--?/, "");
    const flag = spec.flags.find((f) => f.name === key || (f.short === key && !arg.startsWith("--")));
    if (!flag) throw new UsageError(`${spec.name}: unknown flag ${eq > 0 ? arg.slice(0, eq) : arg} (see tsrun ${spec.name} --help)`);
    if (flag.kind === "boolean") {
      const v = eq > 0 ? arg.slice(eq + 1) : "true";
      if (v !== "true" && v !== "false") throw new UsageError(`${spec.name}: --${flag.name} takes true or false, not "${v}"`);
      flags[flag.name] = v === "true";
    } else {
      if (eq < 0 && i + 1 >= argv.length) throw new UsageError(`${spec.name}: flag --${flag.name} needs a value`);
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (flag.kind === "list") (lists[flag.name] ??= []).push(value);
      else flags[flag.name] = value;
    }
  }
  if (!help) {
    const required = spec.positionals.filter((p) => p.required).length;
    if (positionals.length < required) {
      throw new UsageError(`${spec.name}: missing ${spec.positionals[positionals.length].name} (usage: ${usageLine(spec)})`);
    }
    if (positionals.length > spec.positionals.length && !spec.positionals.at(-1)?.variadic) {
      throw new UsageError(`${spec.name}: unexpected argument "${positionals[spec.positionals.length]}" (usage: ${usageLine(spec)})`);
    }
  }
  return { flags, lists, positionals, help };
}

export function usageLine(spec: VerbSpec): string {
  const pos = spec.positionals.map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`)).join(" ");
  return `tsrun ${spec.name}${spec.flags.length ? " [flags]" : ""}${pos ? ` ${pos}` : ""}`;
}

/** `tsrun VERB --help`. */
export function verbHelp(spec: VerbSpec): string {
  const lines = [`${spec.description}`, "", `Usage: ${usageLine(spec)}`];
  if (spec.aliases?.length) lines.push(`Also: ${spec.aliases.map((a) => `tsrun ${a}`).join(", ")}`);
  if (spec.flags.length) {
    lines.push("", "Flags:");
    const left = spec.flags.map((f) => `${f.short ? `-${f.short}, ` : "    "}--${f.name}${f.kind !== "boolean" ? ` ${f.placeholder ?? "value"}` : ""}`);
    const w = Math.max(...left.map((l) => l.length));
    spec.flags.forEach((f, i) => lines.push(`  ${left[i].padEnd(w)}   ${f.description}`));
  }
  if (spec.examples?.length) {
    lines.push("", "Examples:");
    for (const [what, cmd] of spec.examples) lines.push(`  ${what}:`, `    ${cmd}`);
  }
  return lines.join("\n") + "\n";
}
