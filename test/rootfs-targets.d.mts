// Types of rootfs-targets.mjs (plain JS: jest loads it as its global set-up, outside the TS transform).
export function snapshot(): Map<string, Set<string>>;
export function removeAdded(before: Map<string, Set<string>>): string[];
export function setup(): Promise<void>;
export function teardown(): Promise<void>;
