// See rootfs-targets.mjs.
export { teardown as default } from "./rootfs-targets.mjs";
