import { startServer } from "./tests/_helpers/mod.ts";
const server = await startServer({ port: 47811 } as never);
console.log("listening", server.url);
await new Promise((r) => setTimeout(r, 90_000));
await server.stop();
