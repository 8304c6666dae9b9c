// Copyright 2026 the mpreg authors. MIT license.
/**
 * The browser client a node serves at `/client.js`: `client.ts` bundled for
 * browsers (ESM, minified), built once per process on first request.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["mpreg", "server", "http"]);

let cached: Promise<string> | null = null;

/**
 * The bundled browser client. It is built with `deno bundle` in a
 * subprocess the first time (a second or so), then served from memory. When
 * no `deno` binary can bundle (a compiled node), the prebuilt
 * `dist/mpreg-client.js` of `deno task bundle` is used instead.
 *
 * @returns The JavaScript source.
 * @throws {Error} when neither works.
 */
export function clientBundle(): Promise<string> {
  cached ??= build().catch((err) => {
    cached = null;
    throw err;
  });
  return cached;
}

async function build(): Promise<string> {
  const entry = new URL("../../client.ts", import.meta.url);
  const out = await Deno.makeTempFile({ suffix: ".js" });
  try {
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--platform",
        "browser",
        "--format",
        "esm",
        "--minify",
        "--external",
        "yaml",
        "-o",
        out,
        entry.href,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (result.success) return await Deno.readTextFile(out);
    const reason = new TextDecoder().decode(result.stderr).trim().split("\n").at(-1);
    log.warn("Cannot bundle the client ({reason}); trying dist/mpreg-client.js", { reason });
  } catch (err) {
    log.warn("Cannot bundle the client ({error}); trying dist/mpreg-client.js", {
      error: String(err),
    });
  } finally {
    await Deno.remove(out).catch(() => {});
  }
  return await Deno.readTextFile(new URL("../../dist/mpreg-client.js", import.meta.url));
}
