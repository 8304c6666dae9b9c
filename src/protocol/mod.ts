// Copyright 2026 the mpreg authors. MIT license.
/**
 * Wire protocol v1: messages, codecs, limits, error codes and error classes.
 *
 * @module
 */
export * from "./codec.ts";
export * from "./codes.ts";
export * from "./errors.ts";
export * from "./limits.ts";
export * from "./messages.ts";
export * from "./step.ts";
