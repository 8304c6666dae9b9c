const n = Number(Deno.args[0]);
const cmds: unknown[] = [{ name: "s0", fun: "echo", args: [1] }];
for (let i = 1; i <= n; i++) cmds.push({ name: `s${i}`, fun: "echos", args: [`s${i - 1}`, `s${i - 1}`] });
const frame = JSON.stringify({ role: "rpc", u: 1, cmds });
console.log("frame bytes", frame.length);
const ws = new WebSocket("ws://127.0.0.1:47811", "mpreg.json.v1");
await new Promise((r) => (ws.onopen = r));
ws.onmessage = (e) => console.log("answer", String(e.data).slice(0, 200));
ws.onclose = (e) => console.log("closed", e.code, e.reason);
ws.onerror = () => {};
const t0 = performance.now();
ws.send(frame);
for (let i = 0; i < 12; i++) {
  await new Promise((r) => setTimeout(r, 2000));
  const ac = AbortSignal.timeout(1500);
  try {
    const r = await fetch("http://127.0.0.1:47811/healthz", { signal: ac });
    console.log(((performance.now() - t0) / 1000).toFixed(1), "s healthz", r.status);
    await r.body?.cancel();
  } catch (e) {
    console.log(((performance.now() - t0) / 1000).toFixed(1), "s healthz no answer:", (e as Error).name);
  }
}
Deno.exit(0);
