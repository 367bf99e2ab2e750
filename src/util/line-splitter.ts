// Splitting a byte stream into lines while holding at most `maxLineBytes` of any one line: whatever a
// process prints (a 600 MB line without a newline), memory stays bounded. No I/O.

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  /** The current line is longer than the limit: its bytes are counted, not kept. */
  private skipping = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: string) => void,
    /** Called with the length of each line too long to parse. */
    private readonly onSkipped: (bytes: number) => void = () => {},
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.take(chunk.subarray(start, nl));
      this.emit();
      start = nl + 1;
    }
    this.take(chunk.subarray(start));
  }

  /** The stream ended: a last line without a newline is a line too. */
  end(): void {
    if (this.size > 0) this.emit();
  }

  private take(part: Buffer): void {
    if (part.length === 0) return;
    this.size += part.length;
    if (!this.skipping && this.size > this.maxLineBytes) {
      this.skipping = true;
      this.parts = [];
    }
    if (!this.skipping) this.parts.push(Buffer.from(part)); // a copy: the chunk is not held
  }

  private emit(): void {
    if (this.skipping) this.onSkipped(this.size);
    else this.onLine(Buffer.concat(this.parts, this.size).toString('utf8').replace(/\r$/, ''));
    this.parts = [];
    this.size = 0;
    this.skipping = false;
  }
}
