// Copyright 2026 the mpreg authors. MIT license.
// A page uploads 50 MiB with the bundled client (issue 18): a ReadableStream
// made in the page, 800 chunks of 64 KiB with a known pattern, read by a
// function on the node that counts and hashes its bytes.
import assert from "node:assert/strict";
import { hasChromium, onNodePage } from "../_helpers/chromium.ts";
import { startServer } from "../_helpers/mod.ts";

const CHUNKS = 800;
const CHUNK_BYTES = 64 * 1024;

/** Chunk c: byte j is `(c * 7 + j) & 255`, the page's pattern. */
function chunk(c: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(CHUNK_BYTES);
  for (let j = 0; j < CHUNK_BYTES; j++) bytes[j] = (c * 7 + j) & 255;
  return bytes;
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "browser: a page uploads 50 MiB and the node reads every byte (count and SHA-256)",
  ignore: !hasChromium(),
  async fn() {
    await using server = await startServer();
    server.register("digest", async (stream: ReadableStream<Uint8Array>) => {
      const all = new Uint8Array(CHUNKS * CHUNK_BYTES + 1);
      let bytes = 0;
      for await (const part of stream) {
        if (bytes + part.length > CHUNKS * CHUNK_BYTES) throw new RangeError("too many bytes");
        all.set(part, bytes);
        bytes += part.length;
      }
      return { bytes, sha256: hex(await crypto.subtle.digest("SHA-256", all.subarray(0, bytes))) };
    });
    const whole = new Uint8Array(CHUNKS * CHUNK_BYTES);
    for (let c = 0; c < CHUNKS; c++) whole.set(chunk(c), c * CHUNK_BYTES);
    const expected = hex(await crypto.subtle.digest("SHA-256", whole));
    await onNodePage(server.url, async (page, http, errors) => {
      const outcome = await page.evaluate(async ([http, ws, chunks, size]) => {
        const { Client } = await import(`${http}/client.js`);
        const out: Record<string, unknown> = {};
        let pulls = 0;
        const generated = () => {
          let c = 0;
          pulls = 0;
          return new ReadableStream<Uint8Array>({
            pull(controller) {
              pulls++;
              if (c === chunks) return controller.close();
              const bytes = new Uint8Array(size);
              for (let j = 0; j < size; j++) bytes[j] = (c * 7 + j) & 255;
              c++;
              controller.enqueue(bytes);
            },
          });
        };
        // What making the 50 MiB costs the page alone.
        let started = performance.now();
        for await (const _ of generated()) { /* drain */ }
        out.generate = Math.round(performance.now() - started);
        for (const encoding of ["msgpack", "json"]) {
          const client = new Client(ws, { encoding, timeoutMs: 120_000 });
          const stream = generated();
          started = performance.now();
          const result = await client.call("digest", [stream]);
          out[encoding] = { result, pulls, ms: Math.round(performance.now() - started) };
          client.close();
        }
        return out;
      }, [http, server.url, CHUNKS, CHUNK_BYTES] as const);
      for (const encoding of ["msgpack", "json"]) {
        const { result, pulls, ms } = outcome[encoding] as {
          result: unknown;
          pulls: number;
          ms: number;
        };
        assert.deepEqual(result, { bytes: 50 * 1024 * 1024, sha256: expected }, encoding);
        assert.equal(pulls, CHUNKS + 1);
        // deno-lint-ignore no-console
        console.log(
          `50 MiB upload from Chromium, ${encoding}: ${ms} ms ` +
            `(making the chunks alone: ${outcome.generate} ms)`,
        );
      }
      assert.deepEqual(errors, []);
    });
  },
});
