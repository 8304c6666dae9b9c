// Copyright 2026 the mpreg authors. MIT license.
/**
 * Cluster membership and the read-only cluster view.
 *
 * @module
 */
export * from "./cluster.ts";
