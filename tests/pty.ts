/**
 * Runs a shell command under a pseudo-terminal, as a person at a terminal would (util-linux
 * `script`): stdin stays open, so a program that asks a question waits for an answer. The caller
 * can type into the terminal (`type("\x03")` is Ctrl-C) and watch the output as it arrives.
 */

/** What a Deno permission prompt prints; none of glassbox's commands may ever show one. */
export const PROMPT = /requests \w+ access|Allow\?|┏ ⚠️|\[y\/n/;

/** A command running in a pseudo-terminal. */
export interface PtyRun {
  /** Everything the terminal showed so far. */
  output(): string;
  /** Types text into the terminal. */
  type(text: string): Promise<void>;
  /** Resolves when the output matches `re` (true) or after `ms` (false). */
  waitFor(re: RegExp, ms: number): Promise<boolean>;
  /** The exit code once the command ends, or null (and the command killed) after `ms`. */
  exit(ms: number): Promise<number | null>;
  /**
   * Waits for the command to end, like `exit`, but kills it as soon as the output shows a
   * permission prompt: `prompted` is then the line that asked.
   */
  finish(ms: number): Promise<{ code: number | null; prompted: string | null }>;
}

/** Starts `command` (run by /bin/sh) in a pseudo-terminal of 120 columns. */
export function pty(command: string, cwd = Deno.cwd()): PtyRun {
  const child = new Deno.Command("script", {
    args: ["-qec", `stty cols 120 2>/dev/null; ${command}`, "/dev/null"],
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", TERM: "xterm" },
  }).spawn();
  const writer = child.stdin.getWriter();
  let text = "";
  const dec = new TextDecoder();
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) text += dec.decode(chunk, { stream: true });
  };
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let code: number | null | undefined;
  const status = child.status.then(async (s) => {
    await pumped;
    code = s.code;
    return s.code;
  });
  return {
    output: () => text,
    type: (t) => writer.write(new TextEncoder().encode(t)),
    async waitFor(re, ms) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (re.test(text)) return true;
        if (code !== undefined) return re.test(text);
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    },
    async finish(ms) {
      const end = Date.now() + ms;
      while (code === undefined && Date.now() < end) {
        const m = text.match(PROMPT);
        if (m) {
          await new Promise((r) => setTimeout(r, 300)); // the rest of the question
          const line = text.match(/[^\r\n]*requests [^\r\n]*/)?.[0] ??
            text.slice(0, m.index! + m[0].length).split(/\r?\n/).at(-1)!;
          await this.exit(0);
          return { code: null, prompted: line.trim() };
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const m = text.match(PROMPT);
      return { code: await this.exit(Math.max(0, end - Date.now())), prompted: m ? m[0] : null };
    },
    async exit(ms) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
      const c = await Promise.race([status, timeout]);
      clearTimeout(timer);
      if (c === null) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
        await status;
      }
      await writer.close().catch(() => {});
      return c;
    },
  };
}
