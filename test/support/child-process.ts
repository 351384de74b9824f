import type { ChildProcess } from 'node:child_process';

/**
 * A graceful stop, as Kubernetes does it: SIGTERM, then SIGKILL if the process has not exited
 * within `graceMs`. Resolves once it exited (`exited`: its 'exit' event); nothing to do when it
 * never started or exited already.
 */
export async function stopGracefully(
  child: ChildProcess | undefined,
  exited: Promise<void> | undefined,
  graceMs = 20_000,
): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
