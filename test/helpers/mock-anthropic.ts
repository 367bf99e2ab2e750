// A mock Anthropic Messages API (node:http only, 127.0.0.1) that the real Claude Code CLI accepts: streamed
// (SSE) answers that are either a text reply or one Bash tool call, chosen per request by a test's responder.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** One received POST /v1/messages. */
export interface MessagesRequest {
  body: any;
  /** x-claude-code-session-id */
  session: string | undefined;
}

/** What to answer: a text reply (ends the turn) or a Bash tool call. */
export type Reply = { text: string } | { bash: string };
export type Responder = (req: MessagesRequest) => Reply;

export interface MockAnthropic {
  /** The ANTHROPIC_BASE_URL, http://127.0.0.1:PORT */
  url: string;
  requests: MessagesRequest[];
  respond(fn: Responder): void;
  close(): Promise<void>;
}

type Message = { role: string; content: any };

/** The text blocks of a message, joined. */
export function textOf(m: Message | undefined): string {
  if (!m) return '';
  if (typeof m.content === 'string') return m.content;
  if (!Array.isArray(m.content)) return '';
  return (m.content as { type: string; text?: string }[])
    .filter((b) => b.type === 'text')
    .map((b) => b.text ?? '')
    .join('\n');
}

/** The last user message (role user), whatever it holds. */
export function lastUser(req: MessagesRequest): Message | undefined {
  return [...(req.body.messages as Message[])].reverse().find((m) => m.role === 'user');
}

/** True when the last user message carries a tool result (the model's tool call came back). */
export function afterToolResult(req: MessagesRequest): boolean {
  const m = lastUser(req);
  return Array.isArray(m?.content) && (m.content as { type: string }[]).some((b) => b.type === 'tool_result');
}

/** The tool results of the last user message, as text. */
export function toolResults(req: MessagesRequest): string[] {
  const m = lastUser(req);
  if (!Array.isArray(m?.content)) return [];
  return (m.content as { type: string; content?: unknown }[])
    .filter((b) => b.type === 'tool_result')
    .map((b) => (typeof b.content === 'string' ? b.content : JSON.stringify(b.content)));
}

/** Every message of the request as one string each (system messages included), for searching. */
export function messageTexts(req: MessagesRequest): string[] {
  return (req.body.messages as Message[]).map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function writeSse(res: ServerResponse, reply: Reply, n: number, model: string): void {
  const events: [string, Record<string, unknown>][] = [
    [
      'message_start',
      {
        message: {
          id: `msg_mock_${n}`,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 1 },
        },
      },
    ],
  ];
  if ('text' in reply) {
    events.push(
      ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
      ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: reply.text } }],
    );
  } else {
    events.push(
      ['content_block_start', { index: 0, content_block: { type: 'tool_use', id: `toolu_mock_${n}`, name: 'Bash', input: {} } }],
      ['content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify({ command: reply.bash }) } }],
    );
  }
  events.push(
    ['content_block_stop', { index: 0 }],
    [
      'message_delta',
      { delta: { stop_reason: 'text' in reply ? 'end_turn' : 'tool_use', stop_sequence: null }, usage: { output_tokens: 5 } },
    ],
    ['message_stop', {}],
  );
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const [type, data] of events) res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  res.end();
}

/** Starts the mock on 127.0.0.1 with a free port; it answers "ok" until given a responder. */
export async function startMockAnthropic(): Promise<MockAnthropic> {
  const requests: MessagesRequest[] = [];
  const sockets = new Set<Socket>();
  let responder: Responder = () => ({ text: 'ok' });
  let n = 0;

  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ input_tokens: 10 }));
        return;
      }
      if (req.method !== 'POST' || path !== '/v1/messages') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      const body = JSON.parse(raw);
      const h = req.headers['x-claude-code-session-id'];
      const entry: MessagesRequest = { body, session: Array.isArray(h) ? h[0] : h };
      requests.push(entry);
      writeSse(res, responder(entry), ++n, String(body.model ?? 'claude-mock'));
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(err) } }));
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respond(fn) {
      responder = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
