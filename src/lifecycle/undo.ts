/** A stack of undo actions: each step of a multi-step operation pushes how to take itself back. */
export class UndoStack {
  private readonly actions: { what: string; fn: () => void | Promise<void> }[] = [];

  push(what: string, fn: () => void | Promise<void>): void {
    this.actions.push({ what, fn });
  }

  /** Run every action, newest first; keep going past failures and return what failed. */
  async unwind(): Promise<string[]> {
    const failures: string[] = [];
    while (this.actions.length) {
      const { what, fn } = this.actions.pop()!;
      try {
        await fn();
      } catch (e) {
        failures.push(`${what}: ${(e as Error).message}`);
      }
    }
    return failures;
  }

  /** Forget every action (the operation succeeded). */
  commit(): void {
    this.actions.length = 0;
  }
}
