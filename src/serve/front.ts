/**
 * A header-read deadline in front of Deno.serve, which (Deno 2.9.6) offers none: each TCP
 * connection must deliver its request headers within `headerTimeout` ms and in at most
 * `maxHeaderBytes`, or it gets 408 (or 431) and is closed. The request then goes on, with
 * `Connection: close` added so that every connection carries one request and every request has
 * its own deadline, to the server behind (another loopback port), and bytes are
 * copied both ways until either side closes; a client that hangs up closes its upstream
 * connection, which Deno.serve sees as the response stream's cancel.
 */

/** A running front: `close` stops accepting and closes every connection it holds. */
export interface Front {
  /** Stops accepting and closes every connection. */
  close(): void;
}

function headerEnd(bytes: Uint8Array, from: number): number {
  for (let i = Math.max(0, from - 3); i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

function plainResponse(status: number, reason: string, error: string): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify({ error }));
  return new TextEncoder().encode(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${body.length}\r\nconnection: close\r\n\r\n${new TextDecoder().decode(body)}`,
  );
}

/**
 * What is wrong with a request head an origin server should refuse before routing it, or null:
 * HTTP/1.1 requires one Host header, and an absolute-form target (`GET http://other/...`) is for
 * proxies — its authority, not the Host header, would name the site (RFC 9112 §3.2).
 */
export function badHead(head: string): string | null {
  const [line, ...fields] = head.split("\r\n");
  const target = line.split(" ")[1] ?? "";
  if (!target.startsWith("/") && target !== "*") {
    return `the request target must be a path (this is not a proxy), got ${
      JSON.stringify(target.slice(0, 80))
    }`;
  }
  const hosts = fields.filter((f) => /^host\s*:/i.test(f)).length;
  if (hosts !== 1) {
    return hosts === 0 ? "the request has no Host header" : "the request has more than one Host header";
  }
  return null;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let o = 0; o < bytes.length;) o += await conn.write(bytes.subarray(o));
}

/**
 * Accepts connections on `listener` and hands each request whose headers arrive in time to a
 * connection from `upstream`.
 */
export function headerDeadline(
  listener: Deno.Listener,
  upstream: () => Promise<Deno.Conn>,
  options: { headerTimeout: number; maxHeaderBytes?: number },
): Front {
  const { headerTimeout } = options, maxHeaderBytes = options.maxHeaderBytes ?? 16384;
  const open = new Set<Deno.Conn>();
  const closeQuietly = (c: Deno.Conn) => {
    open.delete(c);
    try {
      c.close();
    } catch { /* already closed */ }
  };

  const handle = async (conn: Deno.Conn) => {
    let up: Deno.Conn | undefined;
    try {
      let head = new Uint8Array(0), end = -1, timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), headerTimeout));
      try {
        const chunk = new Uint8Array(4096);
        while (end < 0) {
          const n = await Promise.race([conn.read(chunk), late]);
          if (n === "late") {
            await writeAll(
              conn,
              plainResponse(
                408,
                "Request Timeout",
                `the request headers did not arrive within ${headerTimeout / 1000} s`,
              ),
            );
            return;
          }
          if (n === null) return; // the client left before finishing its headers
          const grown = new Uint8Array(head.length + n);
          grown.set(head);
          grown.set(chunk.subarray(0, n), head.length);
          const from = head.length;
          head = grown;
          end = headerEnd(head, from);
          if ((end < 0 ? head.length : end) > maxHeaderBytes) {
            await writeAll(
              conn,
              plainResponse(
                431,
                "Request Header Fields Too Large",
                `the request headers exceed ${maxHeaderBytes} bytes`,
              ),
            );
            return;
          }
        }
      } finally {
        clearTimeout(timer);
      }
      const wrong = badHead(new TextDecoder().decode(head.subarray(0, end)));
      if (wrong) {
        await writeAll(conn, plainResponse(400, "Bad Request", wrong));
        return;
      }
      // one request per connection: the server behind closes after answering it
      const close = new TextEncoder().encode("\r\nconnection: close");
      const request = new Uint8Array(head.length + close.length);
      request.set(head.subarray(0, end));
      request.set(close, end);
      request.set(head.subarray(end), end + close.length);
      up = await upstream();
      open.add(up);
      await writeAll(up, request);
      await Promise.allSettled([
        conn.readable.pipeTo(up.writable),
        up.readable.pipeTo(conn.writable),
      ]);
    } catch {
      // a side closed; both are closed below
    } finally {
      if (up) closeQuietly(up);
      closeQuietly(conn);
    }
  };

  (async () => {
    try {
      for await (const conn of listener) {
        open.add(conn);
        handle(conn);
      }
    } catch { /* the listener was closed */ }
  })();

  return {
    close() {
      try {
        listener.close();
      } catch { /* already closed */ }
      for (const c of [...open]) closeQuietly(c);
    },
  };
}
