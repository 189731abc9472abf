import { Op, type PlanRecord } from "../launch/ops.js";

/** KEY_USR_SEARCH and KEY_OTH_SEARCH from include/linux/key.h. */
const KEY_USR_SEARCH = 0x00080000;
const KEY_OTH_SEARCH = 0x00000008;

/**
 * Unless --no-new-keyring: the container gets a new session keyring "_ses.<id>" instead of the
 * caller's, searchable by its owner (or by others in a new user namespace, whose ids the keyring's
 * owner check does not see), as runc makes it.
 */
export function planSessionKeyring(id: string, newUser: boolean): PlanRecord {
  return { op: Op.SESSION_KEYRING, ints: [newUser ? KEY_OTH_SEARCH : KEY_USR_SEARCH], strs: [`_ses.${id}`] };
}

/** exec: join the container's session keyring by name, as runc's exec does, leaving its permissions
 *  (set by create) alone: only its owner could change them. */
export function planJoinSessionKeyring(id: string): PlanRecord {
  return { op: Op.SESSION_KEYRING, ints: [0], strs: [`_ses.${id}`] };
}
