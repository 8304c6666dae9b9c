// Copyright 2026 the mpreg authors. MIT license.
// Pre-scanners that check a frame against the limits before any object is
// built, so a nesting bomb or a lying length prefix costs one linear pass.
import { LimitExceededError, ProtocolError } from "./errors.ts";
import { FORBIDDEN_KEYS } from "./step.ts";

/** The subset of limits the scanners enforce. */
export interface ScanLimits {
  maxDepth: number;
  maxElements: number;
  maxStringBytes: number;
}

function tooDeep(max: number): LimitExceededError {
  return new LimitExceededError(`Message nests deeper than ${max} levels`, {
    details: { limit: "maxDepth", max },
  });
}

function tooMany(max: number): LimitExceededError {
  return new LimitExceededError(`Message has more than ${max} elements`, {
    details: { limit: "maxElements", max },
  });
}

function tooLong(max: number, size: number): LimitExceededError {
  return new LimitExceededError(`Message holds a value of ${size} bytes, over ${max}`, {
    details: { limit: "maxStringBytes", max },
  });
}

function forbiddenKey(key: string): ProtocolError {
  return new ProtocolError(`Message uses the forbidden key "${key}"`, {
    details: { key },
  });
}

const FORBIDDEN_BYTES = FORBIDDEN_KEYS.map((k) => new TextEncoder().encode(k));

function forbiddenAt(buf: Uint8Array, at: number, len: number): string | null {
  if (len !== 9 && len !== 11) return null;
  outer: for (let k = 0; k < FORBIDDEN_BYTES.length; k++) {
    const bytes = FORBIDDEN_BYTES[k]!;
    if (bytes.length !== len) continue;
    for (let i = 0; i < len; i++) if (buf[at + i] !== bytes[i]) continue outer;
    return FORBIDDEN_KEYS[k]!;
  }
  return null;
}

// The scanner's stacks, reused by every scan (a scan runs to completion
// without yielding): values still expected in the open container at each
// depth, and whether it is a map (keys sit at even positions). Counts are
// 32-bit integers: a container is refused before it is pushed when its count
// is over the bytes left, and a frame is far under 4 GiB, so they fit; as
// integers, the parity test below is a bit test, not a float modulo.
let remaining = new Uint32Array(66);
let isMap = new Uint8Array(66);

function truncated(): ProtocolError {
  return new ProtocolError("Truncated msgpack frame");
}

function readU16(buf: Uint8Array, pos: number): number {
  if (pos + 2 > buf.length) throw truncated();
  return (buf[pos]! << 8) | buf[pos + 1]!;
}

function readU32(buf: Uint8Array, pos: number): number {
  if (pos + 4 > buf.length) throw truncated();
  return ((buf[pos]! << 24) >>> 0) + ((buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!);
}

/**
 * Checks one msgpack value spanning the whole of `buf` against the limits.
 * Only the msgpack timestamp extension (type -1) is accepted, and object keys
 * in {@linkcode FORBIDDEN_KEYS} are refused.
 */
export function scanMsgpack(buf: Uint8Array, limits: ScanLimits): void {
  const { maxDepth, maxElements, maxStringBytes } = limits;
  if (remaining.length < maxDepth + 2) {
    remaining = new Uint32Array(maxDepth + 2);
    isMap = new Uint8Array(maxDepth + 2);
  }
  const end = buf.length;
  // Keeps every count that passes the checks below within 32 bits.
  if (end > 0xffffffff) {
    throw new LimitExceededError(`Frame of ${end} bytes is over 4 GiB`, {
      details: { limit: "maxFrameBytes", max: 0xffffffff },
    });
  }
  remaining[0] = 1;
  isMap[0] = 0;
  let depth = 0;
  let elements = 0;
  let pos = 0;

  while (depth >= 0) {
    const left = remaining[depth]!;
    if (left === 0) {
      depth--;
      continue;
    }
    const atKey = isMap[depth] === 1 && (left & 1) === 0;
    remaining[depth] = left - 1;
    if (pos >= end) throw truncated();
    const b = buf[pos++]!;
    let open = -1; // entries of a container opened by this byte
    let map = false;
    let skip = 0; // payload bytes to skip
    let strLen = -1;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      // fixint, nil, booleans
    } else if (b <= 0x8f) {
      open = (b & 0x0f) * 2;
      map = true;
    } else if (b <= 0x9f) {
      open = b & 0x0f;
    } else if (b <= 0xbf) {
      strLen = b & 0x1f;
    } else {
      switch (b) {
        case 0xc4:
        case 0xd9:
          if (pos >= end) throw truncated();
          strLen = buf[pos++]!;
          break;
        case 0xc5:
        case 0xda:
          strLen = readU16(buf, pos);
          pos += 2;
          break;
        case 0xc6:
        case 0xdb:
          strLen = readU32(buf, pos);
          pos += 4;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xd6:
        case 0xd7:
        case 0xc7: {
          // timestamp: fixext4, fixext8 or ext8 with length 12
          let len = b === 0xd6 ? 4 : b === 0xd7 ? 8 : -1;
          if (len < 0) {
            if (pos >= end) throw truncated();
            len = buf[pos++]!;
            if (len !== 12) throw new ProtocolError("Unsupported msgpack extension");
          }
          if (pos >= end) throw truncated();
          if (buf[pos++] !== 0xff) throw new ProtocolError("Unsupported msgpack extension");
          skip = len;
          break;
        }
        case 0xdc:
          open = readU16(buf, pos);
          pos += 2;
          break;
        case 0xdd:
          open = readU32(buf, pos);
          pos += 4;
          break;
        case 0xde:
          open = readU16(buf, pos) * 2;
          pos += 2;
          map = true;
          break;
        case 0xdf:
          open = readU32(buf, pos) * 2;
          pos += 4;
          map = true;
          break;
        default:
          throw new ProtocolError(`Unsupported msgpack type 0x${b.toString(16)}`);
      }
    }
    if (strLen >= 0) {
      if (strLen > maxStringBytes) throw tooLong(maxStringBytes, strLen);
      if (pos + strLen > end) throw truncated();
      if (atKey) {
        const key = forbiddenAt(buf, pos, strLen);
        if (key !== null) throw forbiddenKey(key);
      }
      pos += strLen;
    } else if (skip > 0) {
      if (pos + skip > end) throw truncated();
      pos += skip;
    } else if (open >= 0) {
      elements += map ? open / 2 : open;
      if (elements > maxElements) throw tooMany(maxElements);
      // Every value takes at least one byte: a count past the end is a lie.
      if (open > end - pos) throw truncated();
      if (depth + 1 > maxDepth) throw tooDeep(maxDepth);
      depth++;
      remaining[depth] = open;
      isMap[depth] = map ? 1 : 0;
    }
  }
  if (pos !== end) throw new ProtocolError("Trailing bytes after the msgpack value");
}

/**
 * Checks a JSON text against the limits. Syntax errors are left to
 * `JSON.parse`; this only counts depth, elements and string sizes, and
 * refuses the {@linkcode FORBIDDEN_KEYS}.
 */
export function scanJson(text: string, limits: ScanLimits): void {
  const { maxDepth, maxElements, maxStringBytes } = limits;
  const end = text.length;
  let depth = 0;
  let elements = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i + 1;
      let escaped = false;
      i++;
      while (i < end) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) {
          escaped = true;
          i += 2;
          continue;
        }
        if (d === 0x22) break;
        i++;
      }
      const len = i - start;
      if (len > maxStringBytes) throw tooLong(maxStringBytes, len);
      // The keys are 9 or 11 characters; escaped, up to 6 times longer.
      if (len >= 9 && len <= 66) {
        let j = i + 1;
        while (j < end && text.charCodeAt(j) <= 0x20) j++;
        if (text.charCodeAt(j) === 0x3a /* : */) {
          const key = escaped ? safeParse(text.slice(start - 1, i + 1)) : text.slice(start, i);
          if (typeof key === "string" && FORBIDDEN_KEYS.includes(key)) throw forbiddenKey(key);
        }
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) throw tooDeep(maxDepth);
      if (++elements > maxElements) throw tooMany(maxElements);
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x2c /* , */) {
      if (++elements > maxElements) throw tooMany(maxElements);
    }
  }
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
