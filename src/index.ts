// The library API: what the CLI is a thin layer over, for Node programs that embed tsrun.
export { makeContext, type RuntimeContext } from "./lifecycle/context.js";
export { createContainer, createPlanInput, type CreateOptions } from "./lifecycle/create.js";
export { planCreate, type CreatePlan, type CreatePlanInput, type CreateHostFacts } from "./plan/create-plan.js";
export { startContainer } from "./lifecycle/start.js";
export { killContainer } from "./lifecycle/kill.js";
export { deleteContainer } from "./lifecycle/delete.js";
export { runContainer, type RunOptions } from "./lifecycle/run.js";
export { execInContainer, type ExecOptions } from "./lifecycle/exec.js";
export { planExec, type ExecRequest, type PlannedExec } from "./plan/exec-request.js";
export { containerState, listContainers, type OciState } from "./lifecycle/state.js";
export { parseKillSignal, parseSignal } from "./lifecycle/signals.js";
export { loadBundle } from "./spec/load.js";
export * from "./errors.js";
