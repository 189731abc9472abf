// The JSON path a ConfigError names: tests assert on what a user would read ("/process/args").
import { ConfigError } from "../../src/errors.js";

export function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    // The one line a user reads names the same path.
    expect((e as Error).message).toContain((e as ConfigError).field);
    return (e as ConfigError).field;
  }
  throw new Error("expected a ConfigError");
}
