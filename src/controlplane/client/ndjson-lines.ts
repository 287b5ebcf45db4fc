// Splits a byte stream of newline-delimited JSON into parsed values (the watch wire format).

/** Feeds chunks in, gets complete parsed lines out; keeps a partial trailing line until its newline arrives. */
export class NdjsonLines {
  #pending = '';
  readonly #decoder = new TextDecoder('utf-8');

  /** Parses every complete line in `chunk`; blank lines are skipped. Throws SyntaxError on a malformed line. */
  push(chunk: Uint8Array): unknown[] {
    this.#pending += this.#decoder.decode(chunk, { stream: true });
    const out: unknown[] = [];
    let nl: number;
    while ((nl = this.#pending.indexOf('\n')) >= 0) {
      const line = this.#pending.slice(0, nl).trim();
      this.#pending = this.#pending.slice(nl + 1);
      if (line) out.push(JSON.parse(line));
    }
    return out;
  }

  /** Parses a final line that had no trailing newline. */
  end(): unknown[] {
    const rest = (this.#pending + this.#decoder.decode()).trim();
    this.#pending = '';
    return rest ? [JSON.parse(rest)] : [];
  }
}
