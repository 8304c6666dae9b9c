// Copyright 2026 the mpreg authors. MIT license.
// Calls an mpreg node from a web page with the browser client the node
// serves at /client.js. Serve this folder with any static file server and
// open it with ?node=ws://host:port (default ws://127.0.0.1:9001). The node
// must list this page's origin in allowed_origins (examples/node.yaml lists
// http://127.0.0.1:8000 and http://localhost:8000): it refuses WebSockets
// from pages on other origins, and a browser only sees the connection fail.

const node = new URLSearchParams(location.search).get("node") ?? "ws://127.0.0.1:9001";

/** The original MPREG quick demo: needs add, multiply and format (examples/functions.ts). */
const QUICK_DEMO = [
  { name: "sum1", fun: "add", args: [10, 20] },
  { name: "sum2", fun: "add", args: [5, 15] },
  { name: "total", fun: "add", args: ["sum1", "sum2"] },
  { name: "doubled", fun: "multiply", args: ["total", 3] },
  { name: "final", fun: "format", args: ["doubled", "Final Answer"] },
];

/** The same shape with the built-ins every node has. */
const ECHO_DEMO = [
  { name: "first", fun: "echo", args: [10] },
  { name: "second", fun: "echo", args: [20] },
  { name: "both", fun: "echos", args: ["first", "second"] },
  { name: "final", fun: "echos", args: ["Final Answer", "both"] },
];

function $(id) {
  return document.querySelector(`[data-testid="${id}"]`);
}

function show(id, value) {
  $(id).textContent = typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function steps(list) {
  return list.map((s) => `${s.name} = ${s.fun}(${s.args.map((a) => JSON.stringify(a)).join(", ")})`)
    .join("\n");
}

async function main() {
  show("node", node);
  // ws://host:port → http://host:port/client.js (wss → https).
  const base = new URL(node.replace(/^ws/, "http"));
  const { Client, FunctionNotFoundError } = await import(new URL("/client.js", base).href);
  const client = new Client(node, { encoding: "json", timeoutMs: 10_000 });
  try {
    show("call-code", `client.call("echo", ["hello from the browser"])`);
    show("call-result", await client.call("echo", ["hello from the browser"]));

    let demo = QUICK_DEMO;
    let result;
    try {
      result = await client.request(demo);
    } catch (err) {
      if (!(err instanceof FunctionNotFoundError)) throw err;
      demo = ECHO_DEMO; // this node has no add/multiply/format
      result = await client.request(demo);
    }
    show("request-steps", steps(demo));
    show("request-result", result);
    $("status").dataset.state = "done";
    show("status", "Done.");
  } finally {
    client.close();
  }
}

main().catch((err) => {
  $("status").dataset.state = "error";
  // A refused origin looks like a node that never answers.
  const hint = err?.name === "TimeoutError" || err?.name === "ConnectionError"
    ? ` (is ${location.origin} in the node's allowed_origins?)`
    : "";
  show("status", `${err?.name ?? "Error"}: ${err?.message ?? err}${hint}`);
});
