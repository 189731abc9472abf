/** The two forms of a dry run: numbered lines under headings, or a JSON array of the steps. Pure. */
import type { DryRunStep } from "./inputs.js";

export type DryRunFormat = "text" | "json";

/** One line per step, numbered, with a heading each time the section changes. */
export function dryRunText(title: string, steps: readonly DryRunStep[]): string {
  const lines = [title];
  const width = String(steps.length).length;
  let section: string | undefined;
  for (const s of steps) {
    if (s.section !== section) {
      section = s.section;
      lines.push(`${section}:`);
    }
    // An action is one line, whatever a path or an argument in it holds.
    lines.push(`  ${String(s.step).padStart(width)}. ${s.action.replace(/\r?\n|\r/g, "\\n")}`);
  }
  return lines.join("\n") + "\n";
}

export function dryRunJson(steps: readonly DryRunStep[]): string {
  return JSON.stringify(steps, (_, v) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n";
}
