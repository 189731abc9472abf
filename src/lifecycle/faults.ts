import { TsrunError } from "../errors.js";

/** A failure made on purpose at a named step, so tests can prove that every step's failure is undone. */
export class InjectedFault extends TsrunError {}

/** Steps of `create` at which a test can make it fail (in this order). */
export const CREATE_STEPS = ["claim", "state", "cgroup", "resources", "layers", "network", "plan", "launch", "record", "pidfile"] as const;
export type CreateStep = (typeof CREATE_STEPS)[number];

export function faultAt(step: string, failAt: string | undefined): void {
  if (failAt === step) throw new InjectedFault(`injected failure after step "${step}"`);
}
