// Copyright 2026 the mpreg authors. MIT license.
/**
 * Serves the browser example (`examples/browser/`) on its own origin, as a
 * web site that calls an mpreg node would be: `deno task browser`, then open
 * http://127.0.0.1:8000/ with `deno task start` running (examples/node.yaml
 * allows that origin). `?node=ws://host:port` picks another node.
 *
 * `deno run --allow-net=127.0.0.1 --allow-read=examples/browser examples/serve_browser.ts [--port N]`
 *
 * @module
 */

const FOLDER = new URL("./browser/", import.meta.url);
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
};

/** Where and how long to serve. */
export interface ServeBrowserOptions {
  /** The port; 0 picks a free one. @default {8000} */
  port?: number;
  /** The address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
}

/**
 * Serves `examples/browser/`: `/` is `index.html`; only its own `.html` and
 * `.js` files, nothing else on disk.
 *
 * @example
 * ```ts ignore
 * const server = serveBrowserExample({ port: 0 });
 * console.log(server.addr.port);
 * await server.shutdown();
 * ```
 *
 * @param options Port, address and signal.
 * @returns The HTTP server.
 */
export function serveBrowserExample(
  options: ServeBrowserOptions = {},
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 8000,
    ...(options.signal ? { signal: options.signal } : {}),
    onListen: () => {},
  }, async (request) => {
    const path = new URL(request.url).pathname;
    const file = path === "/" ? "index.html" : path.slice(1);
    const type = /^[a-z_]+\.(html|js)$/.exec(file)?.[1];
    if (type === undefined) return new Response("Not found", { status: 404 });
    try {
      const body = await Deno.readFile(new URL(file, FOLDER));
      return new Response(body, { headers: { "content-type": TYPES[type]! } });
    } catch {
      return new Response("Not found", { status: 404 });
    }
  });
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--port");
  const port = at >= 0 ? Number(Deno.args[at + 1]) : 8000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    // deno-lint-ignore no-console
    console.error(`serve_browser: --port needs a port number, got ${Deno.args[at + 1]}`);
    Deno.exit(2);
  }
  const server = serveBrowserExample({ port });
  // deno-lint-ignore no-console
  console.log(
    `The browser example: http://127.0.0.1:${server.addr.port}/ ` +
      "(start a node with `deno task start`; ?node=ws://host:port picks another)",
  );
}
