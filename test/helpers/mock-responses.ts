// A mock OpenAI Responses API server (node:http only) that the real Codex CLI 0.169 accepts.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/** One scripted answer; each POST /v1/responses consumes the next one. */
export type MockTurn =
  | { kind: 'shell'; cmd: string } // answer with an exec_command function_call
  | { kind: 'message'; text: string } // answer with a final assistant message
  | { kind: 'http-error'; status: number } // answer with this HTTP status (e.g. 500)
  | { kind: 'hang' } // never send headers (for timeout tests)
  | { kind: 'apply-patch'; patch: string }; // answer with an apply_patch custom_tool_call (needs the freeform tool, see writeCodexHome)

/** One received POST /v1/responses, body parsed as JSON (raw string if it did not parse). */
/** The user-visible texts of a Responses request's input (messages and tool calls), as one JSON string. */
export const inputTexts = (body: any): string =>
  JSON.stringify((body.input as any[]).filter((i) => i.type === 'message' || i.type === 'function_call'));

export interface MockRequest {
  body: any;
  headers: Record<string, string | string[] | undefined>;
  threadId?: string;
}

/** Usage reported by every response.completed event. */
export interface MockUsage {
  input_tokens: number;
  cached_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
}

/** Handle on a running mock server. */
export interface MockServer {
  url: string; // e.g. http://127.0.0.1:PORT/v1 (the base_url for codex)
  requests: MockRequest[]; // every POST /v1/responses received, parsed
  script(turns: MockTurn[]): void; // queue turns; each POST consumes the next one
  usage: MockUsage; // what each response.completed reports (settable)
  close(): Promise<void>; // closes the server and any hanging connections
}

/** Decodes a request body according to its content-encoding (Codex 0.169 sends it uncompressed). */
function decodeBody(raw: Buffer, encoding: string | undefined): string {
  switch ((encoding ?? '').toLowerCase()) {
    case 'gzip':
      return gunzipSync(raw).toString('utf8');
    case 'deflate':
      return inflateSync(raw).toString('utf8');
    case 'br':
      return brotliDecompressSync(raw).toString('utf8');
    default:
      return raw.toString('utf8');
  }
}

/** Reads the whole request body. */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** First value of a header, if any. */
function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Builds the output item for a shell or message turn; n makes the ids unique per response. */
function outputItem(turn: MockTurn & { kind: 'shell' | 'message' | 'apply-patch' }, n: number): Record<string, unknown> {
  if (turn.kind === 'apply-patch') {
    return {
      type: 'custom_tool_call',
      id: `ctc_${n}`,
      call_id: `call_${n}`,
      name: 'apply_patch',
      input: turn.patch,
      status: 'completed',
    };
  }
  if (turn.kind === 'shell') {
    return {
      type: 'function_call',
      id: `fc_${n}`,
      call_id: `call_${n}`,
      name: 'exec_command',
      arguments: JSON.stringify({ cmd: turn.cmd }),
      status: 'completed',
    };
  }
  return {
    type: 'message',
    id: `msg_${n}`,
    role: 'assistant',
    status: 'completed',
    content: [{ type: 'output_text', text: turn.text, annotations: [] }],
  };
}

/** Writes a complete SSE stream (created, item added, text delta, item done, completed). */
function writeStream(res: ServerResponse, item: Record<string, unknown>, n: number, usage: MockUsage): void {
  const respId = `resp_${n}`;
  const events: Record<string, unknown>[] = [{ type: 'response.created', response: { id: respId, status: 'in_progress', output: [] } }];
  if (item.type === 'message') {
    const text = (item.content as { text: string }[])[0]!.text;
    events.push(
      { type: 'response.output_item.added', output_index: 0, item: { ...item, status: 'in_progress', content: [] } },
      { type: 'response.output_text.delta', output_index: 0, content_index: 0, item_id: item.id, delta: text },
    );
  } else {
    events.push({ type: 'response.output_item.added', output_index: 0, item: { ...item, status: 'in_progress' } });
  }
  events.push(
    { type: 'response.output_item.done', output_index: 0, item },
    {
      type: 'response.completed',
      response: {
        id: respId,
        status: 'completed',
        output: [item],
        usage: {
          input_tokens: usage.input_tokens,
          input_tokens_details: { cached_tokens: usage.cached_tokens },
          output_tokens: usage.output_tokens,
          output_tokens_details: { reasoning_tokens: usage.reasoning_tokens },
          total_tokens: usage.input_tokens + usage.output_tokens,
        },
      },
    },
  );
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const ev of events) res.write(`event: ${String(ev.type)}\ndata: ${JSON.stringify(ev)}\n\n`);
  res.end();
}

/** Starts the mock on 127.0.0.1 with a free port; when the script is empty it answers "DONE". */
export async function startMockResponses(): Promise<MockServer> {
  const queue: MockTurn[] = [];
  const requests: MockRequest[] = [];
  const sockets = new Set<Socket>();
  let responses = 0;
  const mock = {
    usage: { input_tokens: 1001, cached_tokens: 100, output_tokens: 51, reasoning_tokens: 7 } as MockUsage,
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(err) } }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'POST' || path !== '/v1/responses') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `mock: no route for ${req.method} ${req.url}` } }));
      return;
    }
    const text = decodeBody(await readBody(req), header(req, 'content-encoding'));
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    const threadId =
      header(req, 'thread-id') ??
      header(req, 'session-id') ??
      (typeof body?.prompt_cache_key === 'string' ? body.prompt_cache_key : undefined);
    requests.push({ body, headers: { ...req.headers }, threadId });

    const turn: MockTurn = queue.shift() ?? { kind: 'message', text: 'DONE' };
    const n = ++responses;
    switch (turn.kind) {
      case 'hang':
        return; // never answer; close() destroys the socket
      case 'http-error':
        res.writeHead(turn.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `mock error ${turn.status}`, type: 'server_error' } }));
        return;
      default:
        writeStream(res, outputItem(turn, n), n, mock.usage);
    }
  }

  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('mock: no TCP address');

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${addr.port}/v1`,
    requests,
    script(turns: MockTurn[]) {
      queue.push(...turns);
    },
    get usage() {
      return mock.usage;
    },
    set usage(u: MockUsage) {
      mock.usage = u;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        sockets.clear();
      });
      return closing;
    },
  };
}
