// Copyright 2026 the mpreg authors. MIT license.
// The stand-in for the original Python server is as strict as the original
// (shared/reference/mpreg-python.md §1.5): the interop tests rely on it.
import assert from "node:assert/strict";
import { Client, ConnectionError } from "../../mod.ts";
import { startPythonStandin } from "../_helpers/python_standin.ts";

/** Sends frames on a plain WebSocket (no subprotocol); the answers and the close code. */
async function exchange(
  url: string,
  frames: Array<string | Uint8Array>,
): Promise<{ answers: Array<{ text: string; binary: boolean }>; code: number | null }> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const answers: Array<{ text: string; binary: boolean }> = [];
  const done = Promise.withResolvers<number | null>();
  socket.onopen = () => {
    for (const frame of frames) socket.send(frame);
  };
  socket.onmessage = (event) => {
    const binary = typeof event.data !== "string";
    answers.push({ text: binary ? new TextDecoder().decode(event.data) : event.data, binary });
    if (answers.length === frames.length) socket.close(1000);
  };
  socket.onclose = (event) => done.resolve(event.code);
  const code = await done.promise;
  return { answers, code };
}

const rpc = (u: unknown, args: string) =>
  `{"role":"rpc","cmds":[{"name":"a","fun":"echo","args":${args}}],"u":${JSON.stringify(u)}}`;

Deno.test('python stand-in: u "1" is answered in a binary frame; u 1 closes without an answer', async () => {
  await using standin = await startPythonStandin();
  const ok = await exchange(standin.url, [rpc("1", '["x"]')]);
  assert.deepEqual(ok.answers, [{ text: '{"r":{"a":"x"},"error":null,"u":"1"}', binary: true }]);
  const numeric = await exchange(standin.url, [rpc(1, '["x"]')]);
  assert.deepEqual(numeric.answers, []);
  assert.equal(numeric.code, 1000);
  assert.match(standin.refused[0]!, /u: Input should be a valid string/);
});

Deno.test("python stand-in: numbers keep their source text; past 64 bits the connection closes", async () => {
  await using standin = await startPythonStandin();
  const { answers } = await exchange(standin.url, [
    new TextEncoder().encode(rpc("7", "[[1.0, 9007199254740993, -0.5e3, 18446744073709551615]]")),
  ]);
  assert.equal(
    answers[0]!.text,
    '{"r":{"a":[1.0,9007199254740993,-0.5e3,18446744073709551615]},"error":null,"u":"7"}',
  );
  const over = await exchange(standin.url, [rpc("8", "[18446744073709551616]")]);
  assert.deepEqual(over.answers, []);
  assert.match(standin.refused[0]!, /exceeds 64-bit range/);
});

Deno.test("python stand-in: an unknown role is answered 1004; an invalid shape closes without an answer", async () => {
  await using standin = await startPythonStandin();
  const unknown = await exchange(standin.url, ['{"role":"cancel","u":"3"}']);
  assert.deepEqual(unknown.answers.map((a) => a.text), [
    '{"r":null,"error":{"code":1004,"message":"Invalid RPC request role: cancel","details":null},"u":"3"}',
  ]);
  for (
    const frame of [
      '{"role":"cancel","u":3}',
      '{"role":"rpc","cmds":[{"name":"a","fun":"echo","args":"x"}],"u":"1"}',
      '{"role":"rpc","cmds":[{"name":"a","fun":"echo","locs":[1]}],"u":"1"}',
      '{"role":"rpc","u":"1"}',
      "[1]",
      "not json",
    ]
  ) {
    const { answers, code } = await exchange(standin.url, [frame]);
    assert.deepEqual(answers, [], frame);
    assert.equal(code, 1000, frame);
  }
  assert.equal(standin.refused.length, 6);
});

Deno.test("python stand-in: a client that offers a subprotocol gets none selected (json and msgpack cannot connect)", async () => {
  await using standin = await startPythonStandin();
  for (const encoding of ["json", "msgpack"] as const) {
    await using client = new Client(standin.url, { encoding, timeoutMs: 2_000 });
    await assert.rejects(client.call("echo", [1]), (err: unknown) => {
      assert.ok(err instanceof ConnectionError, String(err));
      assert.match(err.message, /did not accept the subprotocol/);
      return true;
    });
  }
});
