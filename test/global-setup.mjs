// See rootfs-targets.mjs.
export { setup as default } from "./rootfs-targets.mjs";
