// Copyright 2026 the mpreg authors. MIT license.
/**
 * The memory watchdog: the resident memory of each process, compared with
 * its cap every 100 ms while processes are alive. Private to the pool.
 *
 * @module
 */
import type { PoolState } from "./_pool_state.ts";

/** How often the resident memory of each process is compared with its cap. */
const MEMORY_CHECK_MS = 100;

/** Runs the memory check while processes are alive, and only then. */
export function watchMemory(s: PoolState): void {
  const alive = !s.closed && !s.memoryUnreadable &&
    s.workers.length + s.retiring.size > 0;
  if (alive && s.memoryTimer === undefined) {
    s.memoryTimer = setInterval(() => checkMemory(s), MEMORY_CHECK_MS);
  } else if (!alive && s.memoryTimer !== undefined) {
    clearInterval(s.memoryTimer);
    s.memoryTimer = undefined;
  }
}

/** Kills the processes over their memory cap; stops watching where `/proc` cannot be read. */
export function checkMemory(s: PoolState): void {
  const cap = s.memoryMb * 1024 * 1024;
  for (const worker of [...s.workers, ...s.retiring]) {
    const bytes = worker.process.residentBytes();
    if (bytes === null) {
      // No /proc here (or no read access to it): only the V8 heap limit applies.
      s.memoryUnreadable = true;
      watchMemory(s);
      return;
    }
    if (bytes > cap && !worker.dead) {
      worker.overMemory = true;
      worker.process.kill(
        `used ${Math.round(bytes / 1048576)} MiB of memory, over its cap of ${s.memoryMb} MiB`,
      );
    }
  }
}
