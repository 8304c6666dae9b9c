// Copyright 2026 the mpreg authors. MIT license.
/**
 * The functions a pool knows and the modules they come from: each module's
 * graph check gates its functions. Private to the pool.
 *
 * @module
 */
import { InternalError, type RpcError } from "../protocol/errors.ts";
import { send } from "./_pool_messages.ts";
import { newGeneration } from "./_pool_processes.ts";
import type { FunctionEntry, ModuleState, PoolState } from "./_pool_state.ts";
import { checkSource, type DefineMessage } from "./_protocol.ts";
import { type FunctionRef, moduleUrl } from "./function_spec.ts";
import { checkModuleGraph } from "./module_graph.ts";
import { SandboxPolicyError } from "./policy_error.ts";

/** The pool's entry of a function, defining it (in every current process, once its module passed) the first time. */
export function entryOf(
  s: PoolState,
  ref: FunctionRef,
): FunctionEntry {
  const known = s.byRef.get(ref);
  if (known !== undefined) return known;
  if (
    typeof ref !== "object" || ref === null || typeof ref.name !== "string" || ref.name === ""
  ) {
    throw new TypeError(
      "Invalid sandboxed function: expected { name, module } or { name, source }",
    );
  }
  let key: string;
  let module: string | undefined;
  let exportName: string | undefined;
  let source: string | undefined;
  if ("source" in ref && ref.source !== undefined) {
    checkSource(ref.source);
    source = ref.source;
    key = `${ref.name}\0source\0${source}`;
  } else if ("module" in ref && ref.module !== undefined) {
    module = moduleUrl(ref.module);
    exportName = ref.exportName ?? ref.name;
    key = `${ref.name}\0module\0${module}\0${exportName}`;
  } else {
    throw new TypeError(
      `Invalid sandboxed function "${ref.name}": expected a module or a source`,
    );
  }
  let entry = s.byKey.get(key);
  if (entry === undefined) {
    const define: DefineMessage = { define: s.nextFunctionId++, name: ref.name };
    if (source !== undefined) define.source = source;
    const state = module === undefined ? undefined : moduleState(s, module);
    if (state !== undefined) {
      define.module = state.index ?? -1;
      define.exportName = exportName!;
    }
    entry = { id: define.define, name: ref.name, module: state, define };
    s.byKey.set(key, entry);
    // A module still being checked is defined with its generation.
    if (state === undefined || state.index !== null) {
      for (const worker of s.workers) send(s, worker, define);
    }
  }
  s.byRef.set(ref, entry);
  return entry;
}

/** The state of a module, starting its graph check the first time it is seen. */
export function moduleState(
  s: PoolState,
  url: string,
): ModuleState {
  let state = s.moduleStates.get(url);
  if (state !== undefined) return state;
  const created: ModuleState = { url, index: null, gate: null, error: null };
  s.moduleStates.set(url, created);
  created.gate = checkModuleGraph(url, s.permissions, {
    deno: s.deno,
    config: s.config,
  }).then(
    () => {
      created.gate = null;
      if (s.closed) return;
      created.index = s.modules.length;
      s.modules.push(url);
      for (const entry of s.byKey.values()) {
        if (entry.module === created) entry.define.module = created.index;
      }
      newGeneration(s);
    },
    (err: unknown) => {
      created.gate = null;
      created.error = err instanceof Error ? err : new Error(String(err));
    },
  );
  state = created;
  return state;
}

/** Why a function of a module that failed its graph check cannot run, naming the step (a denial is counted). */
export function moduleError(
  s: PoolState,
  entry: FunctionEntry,
  step: string,
): RpcError {
  const error = entry.module!.error!;
  if (error instanceof SandboxPolicyError) {
    s.denials++;
    return new SandboxPolicyError(`Step "${step}" (${entry.name}) refused: ${error.message}`, {
      details: { step, fun: entry.name, ...(error.details as Record<string, unknown>) },
      cause: error,
    });
  }
  return new InternalError(
    `Step "${step}" (${entry.name}) failed: the sandboxed function could not be loaded from ${
      entry.module!.url
    }: ${error.message}`,
    { details: { step, fun: entry.name }, cause: error },
  );
}

/** The entry of a function by its id. */
export function byKeyOfId(
  s: PoolState,
  id: number,
): FunctionEntry | undefined {
  for (const entry of s.byKey.values()) if (entry.id === id) return entry;
  return undefined;
}
