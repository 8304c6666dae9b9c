// Copyright 2026 the mpreg authors. MIT license.
/**
 * The NATS side of the bench's server work: connects to a `nats-server`,
 * subscribes to a subject and answers every request with its own payload,
 * the NATS counterpart of mpreg's built-in `echo` in `bench/_server.ts`.
 *
 * `deno run -A bench/_nats_responder.ts NATS_URL SUBJECT` prints one JSON
 * line `{ "pid": pid }` once the subscription is registered at the server
 * (after a flush), and exits 0 when stdin closes or it gets SIGTERM.
 *
 * Run by `bench/main.ts`; not meant to be started by hand.
 *
 * @module
 */
import { connect } from "npm:@nats-io/transport-node@3";
import { sigterm, stdinClosed } from "./_process.ts";

async function main(): Promise<void> {
  const [servers, subject] = Deno.args;
  if (servers === undefined || subject === undefined) {
    throw new Error("usage: _nats_responder.ts NATS_URL SUBJECT");
  }
  const nc = await connect({ servers });
  // A callback, not an async iterator: the fastest way the client offers.
  nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err === null) msg.respond(msg.data);
    },
  });
  await nc.flush();
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify({ pid: Deno.pid }) + "\n"));
  await Promise.race([stdinClosed(), sigterm(), nc.closed()]);
  const timeout = new Promise<"timeout">((r) => setTimeout(r, 3_000, "timeout"));
  const outcome = await Promise.race([nc.close().then(() => "closed" as const), timeout]);
  Deno.exit(outcome === "timeout" ? 1 : 0);
}

if (import.meta.main) await main();
