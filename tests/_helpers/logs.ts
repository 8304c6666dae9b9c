// Copyright 2026 the mpreg authors. MIT license.
// Captures LogTape records in memory while a test runs.
import { AsyncLocalStorage } from "node:async_hooks";
import { configure, type LogLevel, type LogRecord, reset } from "@logtape/logtape";

/**
 * Configures LogTape as `server.ts` does (with context storage, so records
 * carry a request's id) to keep every record of `mpreg` and `app` at debug
 * or above in an array, runs `fn` with it, then resets LogTape.
 */
export async function withRequestLogs(
  fn: (records: LogRecord[]) => void | Promise<void>,
): Promise<void> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    contextLocalStorage: new AsyncLocalStorage(),
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["mpreg"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["app"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await fn(records);
  } finally {
    await reset();
  }
}

/**
 * Configures LogTape to keep every record of `category` (and below) at
 * `lowestLevel` or above in an array, runs `fn` with it, then resets LogTape.
 */
export async function withLogs(
  fn: (records: LogRecord[]) => void | Promise<void>,
  category: readonly string[] = ["mpreg"],
  lowestLevel: LogLevel = "debug",
): Promise<void> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: [...category], lowestLevel, sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await fn(records);
  } finally {
    await reset();
  }
}
