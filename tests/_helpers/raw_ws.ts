// Copyright 2026 the mpreg authors. MIT license.
// A WebSocket client written by hand over TCP: it sends the upgrade request
// with exactly the headers a test chooses (Origin, Host), and frames byte by
// byte (fragments, continuation frames, no FIN), which no WebSocket API allows.

/** The answer to an upgrade request, and the open TCP connection when it was accepted. */
export interface Handshake {
  status: number;
  headers: Record<string, string>;
  body: string;
  conn: Deno.TcpConn;
}

/**
 * Opens a TCP connection to a `ws://` URL and sends an upgrade request with
 * `headers` (lower-case names; `host` defaults to the URL's host).
 */
export async function upgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<Handshake> {
  const target = new URL(url);
  const conn = await Deno.connect({
    hostname: target.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(target.port),
  });
  const all: Record<string, string> = {
    host: target.host,
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16)))),
    "sec-websocket-version": "13",
    "sec-websocket-protocol": "mpreg.json.v1",
    ...headers,
  };
  const request = `GET / HTTP/1.1\r\n${
    Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join("")
  }\r\n`;
  await writeAll(conn, new TextEncoder().encode(request));
  // Read up to the end of the response head (and the body of a refusal).
  let raw = "";
  const buffer = new Uint8Array(4096);
  const decoder = new TextDecoder();
  while (!raw.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    raw += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  const [head = "", rest = ""] = raw.split("\r\n\r\n", 2);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const parsed: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(":");
    if (i > 0) parsed[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const status = Number(statusLine.split(" ")[1]);
  let body = rest;
  const length = Number(parsed["content-length"] ?? 0);
  while (status !== 101 && new TextEncoder().encode(body).length < length) {
    const n = await conn.read(buffer);
    if (n === null) break;
    body += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return { status, headers: parsed, body, conn };
}

/** Writes every byte. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** WebSocket opcodes (RFC 6455 §5.2). */
export const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** The header of a masked client frame of `length` payload bytes (mask key all zero). */
export function frameHeader(opcode: number, fin: boolean, length: number): Uint8Array {
  const first = (fin ? 0x80 : 0) | opcode;
  // A zero mask key leaves the payload as it is, so payloads need no copy.
  if (length < 126) return new Uint8Array([first, 0x80 | length, 0, 0, 0, 0]);
  if (length < 65536) {
    return new Uint8Array([first, 0x80 | 126, length >> 8, length & 0xff, 0, 0, 0, 0]);
  }
  const header = new Uint8Array(14);
  header[0] = first;
  header[1] = 0x80 | 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  return header;
}

/** Sends one masked frame. */
export async function sendFrame(
  conn: Deno.Conn,
  opcode: number,
  fin: boolean,
  payload: Uint8Array,
): Promise<void> {
  await writeAll(conn, frameHeader(opcode, fin, payload.length));
  await writeAll(conn, payload);
}

/** Reads one unmasked server frame: its opcode and payload, or `null` at the end of the stream. */
export async function readFrame(
  conn: Deno.Conn,
): Promise<{ opcode: number; payload: Uint8Array } | null> {
  const head = await readExactly(conn, 2);
  if (head === null) return null;
  let length = head[1]! & 0x7f;
  if (length === 126) {
    const ext = await readExactly(conn, 2);
    if (ext === null) return null;
    length = (ext[0]! << 8) | ext[1]!;
  } else if (length === 127) {
    const ext = await readExactly(conn, 8);
    if (ext === null) return null;
    length = Number(new DataView(ext.buffer).getBigUint64(0));
  }
  const payload = await readExactly(conn, length);
  if (payload === null) return null;
  return { opcode: head[0]! & 0x0f, payload };
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array | null> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const read = await conn.read(out.subarray(got));
    if (read === null) return null;
    got += read;
  }
  return out;
}
