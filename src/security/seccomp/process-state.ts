/**
 * The payload a seccomp listener receives with the notify fd: runtime-spec's ContainerProcessState
 * (config-linux.md "Seccomp", runc's specs.ContainerProcessState), with the container's state as it is
 * while the filter is loaded ("creating").
 */
export interface ContainerProcessState {
  ociVersion: string;
  /** Names of the fds sent with the message, in order. */
  fds: string[];
  pid: number;
  metadata?: string;
  state: { ociVersion: string; id: string; status: string; pid: number; bundle: string; annotations: Record<string, string> };
}

/** The payload for the process with host pid `pid` (the container's init at create, or an exec'd
 *  process, with the container's `status` and init pid then); one line of JSON (no newline in it). */
export function containerProcessState(
  c: { ociVersion: string; id: string; bundle: string; annotations: Record<string, string> },
  pid: number,
  metadata: string | undefined,
  container: { status: string; pid: number } = { status: "creating", pid },
): string {
  const state: ContainerProcessState = {
    ociVersion: c.ociVersion,
    fds: ["seccompFd"],
    pid,
    ...(metadata ? { metadata } : {}),
    state: { ociVersion: c.ociVersion, id: c.id, status: container.status, pid: container.pid, bundle: c.bundle, annotations: c.annotations },
  };
  return JSON.stringify(state);
}
