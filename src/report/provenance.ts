/**
 * Where a borrowed result came from: the SHA-256 of a checkpoint's bytes, which a run that
 * borrows another's model records (compress's summary.json) and the report compares with its
 * own checkpoint's, so a section made from another model cannot pass for this one.
 */

/**
 * The SHA-256 of some bytes as 64 lowercase hex digits (Web Crypto, so it runs anywhere).
 *
 * @example
 * ```ts
 * import { sha256Hex } from "glassbox";
 * const h = await sha256Hex(new TextEncoder().encode("abc"));
 * if (h !== "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") throw new Error(h);
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}
