// Copyright 2026 the mpreg authors. MIT license.
/**
 * Registering functions on a node: inline ones, and sandboxed ones, after
 * checking that this process holds every permission they declare (and, for
 * a module, that its graph stays within them).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { PermissionDeniedError } from "../protocol/errors.ts";
import type { FunctionDescription } from "../protocol/function_description.ts";
import {
  boundDescriptions,
  type FunctionSchemas,
  type StandardSchema,
} from "../registry/function_schemas.ts";
import { FunctionRegistry, type Invoker, type RpcFunction } from "../registry/registry.ts";
import {
  type FunctionPermissions,
  missingHostPermissionsSync,
  normalizePermissions,
  permissionKinds,
} from "../sandbox/permissions.ts";
import { Sandbox } from "../sandbox/sandbox.ts";
import { echo, echos } from "./builtins.ts";
import { importFunctions, importSchemas } from "./function_modules.ts";

const log = getLogger(["mpreg", "server"]);

/**
 * How a function is registered: its resources, and where it runs.
 *
 * @example A function that may fetch from one host, in a sandbox process
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type FunctionOptions, Server } from "@mpreg/mpreg";
 * const options: FunctionOptions = { resources: ["dataset-1"], permissions: { net: ["127.0.0.1"] } };
 * await using server = await new Server({ port: 0, auth: { anonymous: { permissions: ["net"] } } })
 *   .register("double", (x: number) => x * 2, options)
 *   .start();
 * await using client = new Client(server.url);
 * assert.equal(await client.call("double", [21], { locs: ["dataset-1"] }), 42);
 * assert.equal(server.stats().sandbox?.pools, 1); // it ran in a sandbox process
 * ```
 */
export interface FunctionOptions {
  /**
   * Resources this function needs, added to the node's own resources when
   * matching a step's `locs`.
   *
   * @default {[]}
   */
  resources?: Iterable<string>;
  /**
   * What the function may touch, in Deno's vocabulary (`net`, `read`,
   * `write`, `env`, `run`, `ffi`, `sys`: `true`, `false` or a list of
   * hosts, paths, names). With it, the function runs in a sandbox process
   * holding exactly these permissions, and callers need every declared kind
   * in their grant.
   *
   * @default {undefined (runs inline, declares nothing)}
   */
  permissions?: FunctionPermissions;
  /**
   * Run in a sandbox process even without permissions (it then may touch
   * nothing). A sandboxed function registered in code runs from its source:
   * it must be self-contained (no closures, no imports).
   *
   * @default {false}
   */
  sandbox?: boolean;
  /**
   * The memory cap of its sandbox process, in MiB.
   *
   * @default {the node's `sandbox.memoryMb`, else 512}
   */
  memoryMb?: number;
  /**
   * The function is safe to run twice (it has no effect, or the same effect
   * however often it runs): after a failure that may have run it (its node
   * lost mid-call, error 1013) the node coordinating the request sends it
   * to another member, and the `Client` sends the request again. Other
   * functions are never re-sent.
   *
   * @default {false}
   */
  idempotent?: boolean;
  /**
   * One Standard Schema (zod, valibot, arktype, …) per positional
   * parameter: each argument is validated (and may be transformed: the
   * function receives the schema's output) before the call. A failure is a
   * 1004 `ProtocolError` naming the path (`args[1].user.id`).
   *
   * @default {undefined (not checked)}
   */
  args?: readonly StandardSchema[];
  /**
   * The Standard Schema of the trailing options object that carries a
   * step's `kwargs`; with it the function always receives that object
   * (`{}` validated when the step has none).
   *
   * @default {undefined (not checked)}
   */
  kwargs?: StandardSchema;
  /**
   * The Standard Schema of the function's result, validated after the call;
   * a failure is a 1003 `FunctionError` with `details.kind: "result"`.
   *
   * @default {undefined (not checked)}
   */
  result?: StandardSchema;
  /**
   * What the function does, shown in the catalog (`GET /cluster`,
   * `client.ts describe`).
   *
   * @default {undefined}
   */
  doc?: string;
}

/**
 * How a module's functions are registered: see {@linkcode Server.registerModule}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type ModuleOptions, Server } from "@mpreg/mpreg";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/fns.ts`, "export const triple = (x: number) => x * 3;\n");
 * const options: ModuleOptions = { resources: ["cpu"], trusted: true };
 * await using server = await new Server({ port: 0 }).start();
 * assert.deepEqual(await server.registerModule(`file://${dir}/fns.ts`, options), ["triple"]);
 * await using client = new Client(server.url);
 * assert.equal(await client.call("triple", [5]), 15);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface ModuleOptions {
  /**
   * Resources the module's functions need.
   *
   * @default {[]}
   */
  resources?: Iterable<string>;
  /**
   * What the functions may touch; they run in sandbox processes holding
   * exactly this.
   *
   * @default {{} (nothing)}
   */
  permissions?: FunctionPermissions;
  /**
   * The memory cap of their sandbox processes, in MiB.
   *
   * @default {the node's `sandbox.memoryMb`, else 512}
   */
  memoryMb?: number;
  /**
   * Run the functions inline with this process's permissions instead.
   *
   * @default {false}
   */
  trusted?: boolean;
  /**
   * Which functions are safe to run twice (see
   * {@linkcode FunctionOptions.idempotent}): `true` for all, or their names.
   *
   * @default {false}
   */
  idempotent?: boolean | readonly string[];
}

/** Settings of {@linkcode Registrations}. */
export interface RegistrationSettings {
  /** The node's name, for logs. */
  readonly node: string;
  /** Error details include stack traces (in sandboxes too). */
  readonly debug: boolean;
  /** The default memory cap of a sandbox process, in MiB (else the sandbox's own default). */
  readonly memoryMb: number | undefined;
}

/**
 * A node's functions: the registry, and the sandbox that runs the
 * sandboxed ones (created at the first). The built-ins `echo` and `echos`
 * are registered from the start.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Registrations } from "./registration.ts";
 * const functions = new Registrations({ node: "n1", debug: false, memoryMb: undefined });
 * functions.register("add", (a: number, b: number) => a + b, { resources: ["cpu"] });
 * assert.deepEqual(functions.functionTable(), { echo: [], echos: [], add: ["cpu"] });
 * assert.equal(functions.sandbox, null); // nothing sandboxed yet
 * ```
 */
export class Registrations {
  /** The registry the runner reads. */
  readonly registry: FunctionRegistry = new FunctionRegistry();
  readonly #settings: RegistrationSettings;
  #sandbox: Sandbox | null = null;

  /**
   * Creates the registry with the built-ins.
   *
   * @param settings The node's name, `debug`, the sandbox memory cap.
   */
  constructor(settings: RegistrationSettings) {
    this.#settings = settings;
    this.registry.register("echo", echo as RpcFunction);
    this.registry.register("echos", echos as RpcFunction);
  }

  /** The sandbox, once a sandboxed function exists. */
  get sandbox(): Sandbox | null {
    return this.#sandbox;
  }

  /**
   * Registers a function; see `Server.register`.
   *
   * @param name The name callers use.
   * @param fn The function.
   * @param options Its resources, permissions, sandbox and memory cap.
   * @throws {PermissionDeniedError} when this process lacks a declared permission.
   */
  register(name: string, fn: RpcFunction, options: FunctionOptions = {}): void {
    const sandboxed = options.permissions !== undefined || options.sandbox === true;
    const idempotent = options.idempotent === true;
    const schemas = schemasOf(options);
    if (!sandboxed) {
      this.registry.register(name, fn, {
        resources: options.resources ?? [],
        idempotent,
        schemas,
      });
    } else {
      const permissions = normalizePermissions(options.permissions ?? {});
      const load = options.memoryMb === undefined ? {} : { memoryMb: options.memoryMb };
      this.#registerSandboxed(
        name,
        fn,
        permissions,
        options.resources ?? [],
        idempotent,
        () => this.#sandboxed().load(name, { source: fn.toString() }, permissions, load),
        schemas,
      );
    }
    log.debug("Registered {fun}", { fun: name, node: this.#settings.node, sandboxed });
  }

  /**
   * Registers every exported function of a module; see `Server.registerModule`.
   *
   * @param module The module's URL.
   * @param options Resources, permissions, and `trusted`.
   * @returns The names registered.
   */
  async registerModule(module: string, options: ModuleOptions = {}): Promise<string[]> {
    const resources = [...(options.resources ?? [])];
    const idempotent = (name: string) =>
      options.idempotent === true ||
      (Array.isArray(options.idempotent) && options.idempotent.includes(name));
    if (options.trusted) {
      const functions = await importFunctions(module);
      checkIdempotentNames(module, options.idempotent, [...functions.keys()]);
      const schemas = await importSchemas(module, [...functions.keys()]);
      for (const [name, fn] of functions) {
        this.register(name, fn, {
          resources,
          idempotent: idempotent(name),
          ...schemasOf(schemas[name] ?? {}),
        });
      }
      return [...functions.keys()];
    }
    const permissions = normalizePermissions(options.permissions ?? {});
    const load = options.memoryMb === undefined ? {} : { memoryMb: options.memoryMb };
    checkHostPermissions(module, permissions);
    const names = await this.#sandboxed().exports(module, permissions, load);
    if (names.length === 0) throw new Error(`Module ${module} exports no function`);
    checkIdempotentNames(module, options.idempotent, names);
    for (const name of names) {
      const placeholder = (() => {
        throw new TypeError(`"${name}" runs in a sandbox`);
      }) as RpcFunction;
      this.#registerSandboxed(
        name,
        placeholder,
        permissions,
        resources,
        idempotent(name),
        () => this.#sandboxed().load(name, { module, exportName: name }, permissions, load),
      );
    }
    return names;
  }

  /**
   * Removes a function.
   *
   * @param name The function's name.
   * @returns Whether it was registered.
   */
  unregister(name: string): boolean {
    return this.registry.unregister(name);
  }

  /**
   * Per function, the resources it needs (as gossiped).
   *
   * @returns Plain data.
   */
  functionTable(): Record<string, string[]> {
    const functions: Record<string, string[]> = {};
    for (const entry of this.registry.entries()) functions[entry.name] = [...entry.resources];
    return functions;
  }

  /**
   * Per function that declares permissions, their kinds (as gossiped).
   *
   * @returns Plain data.
   */
  permissionTable(): Record<string, string[]> {
    const table: Record<string, string[]> = {};
    for (const entry of this.registry.entries()) {
      if (entry.permissionKinds.length > 0) table[entry.name] = [...entry.permissionKinds];
    }
    return table;
  }

  /**
   * The functions registered idempotent (as gossiped), sorted.
   *
   * @returns Their names.
   */
  idempotentList(): string[] {
    const names: string[] = [];
    for (const entry of this.registry.entries()) if (entry.idempotent) names.push(entry.name);
    return names.sort();
  }

  /**
   * Per function, its description (as gossiped), within the bounds of
   * `DESCRIPTION_LIMITS`.
   *
   * @returns Plain data.
   */
  describedTable(): Record<string, FunctionDescription> {
    return boundDescriptions(
      this.registry.entries().map((entry) => [entry.name, entry.description] as const),
    );
  }

  /**
   * Closes the sandbox processes, if any.
   *
   * @returns When they have exited.
   */
  async close(): Promise<void> {
    await this.#sandbox?.close();
  }

  #registerSandboxed(
    name: string,
    fn: RpcFunction,
    permissions: FunctionPermissions,
    resources: Iterable<string>,
    idempotent: boolean,
    load: () => Invoker,
    schemas: FunctionSchemas = {},
  ): void {
    checkHostPermissions(`"${name}"`, permissions);
    this.registry.register(name, fn, {
      resources,
      idempotent,
      schemas,
      permissionKinds: permissionKinds(permissions),
      invoke: load(),
    });
  }

  #sandboxed(): Sandbox {
    const memoryMb = this.#settings.memoryMb;
    return this.#sandbox ??= new Sandbox({
      debug: this.#settings.debug,
      ...(memoryMb === undefined ? {} : { memoryMb }),
    });
  }
}

/** The schemas among a function's options. */
function schemasOf(options: FunctionSchemas): FunctionSchemas {
  const schemas: FunctionSchemas = {};
  if (options.args !== undefined) schemas.args = options.args;
  if (options.kwargs !== undefined) schemas.kwargs = options.kwargs;
  if (options.result !== undefined) schemas.result = options.result;
  if (options.doc !== undefined) schemas.doc = options.doc;
  return schemas;
}

/** Refuses an `idempotent` list naming a function the module does not export. */
function checkIdempotentNames(
  module: string,
  idempotent: boolean | readonly string[] | undefined,
  names: readonly string[],
): void {
  if (!Array.isArray(idempotent)) return;
  const unknown = idempotent.filter((name) => !names.includes(name));
  if (unknown.length > 0) {
    throw new TypeError(
      `idempotent names ${unknown.map((n) => `"${n}"`).join(", ")}, which ${module} does not ` +
        `export (it exports ${names.map((n) => `"${n}"`).join(", ")})`,
    );
  }
}

function checkHostPermissions(what: string, permissions: FunctionPermissions): void {
  const missing = missingHostPermissionsSync(permissions);
  if (missing.length > 0) {
    throw new PermissionDeniedError(
      `${what} declares ${missing.join(", ")}, which this process lacks; ` +
        "start the node with those permissions (or -A)",
      { details: { fun: what, missing } },
    );
  }
}
