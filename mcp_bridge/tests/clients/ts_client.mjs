// Drives the official TypeScript SDK's Client against a live server, as a third-party client would.
//   node ts_client.mjs '{"transport": "http|sse|ws", "url": "...", "headers": {...}, "calls": [["tool", {args}], ...]}'
// Prints one JSON object: {"results": [...]} (a call named "__list__" lists the tools), or {"error": "..."}.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { runCalls } from "./calls.mjs";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";
import WebSocket from "ws";

const spec = JSON.parse(process.argv[2]);
const headers = spec.headers || {};

function transport() {
  const url = new URL(spec.url);
  if (spec.transport === "http") return new StreamableHTTPClientTransport(url, { requestInit: { headers } });
  if (spec.transport === "sse") {
    // The SSE stream is opened by EventSource, which takes its headers through its own fetch.
    const eventSourceInit = { fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...headers } }) };
    return new SSEClientTransport(url, { requestInit: { headers }, eventSourceInit });
  }
  // Node 20 has no global WebSocket: the SDK's transport uses the `ws` package's, with our headers when given.
  globalThis.WebSocket = class extends WebSocket {
    constructor(address, protocols) { super(address, protocols, { headers }); }
  };
  return new WebSocketClientTransport(url);
}

const client = new Client({ name: "openmemory-tests-ts", version: "1.0.0" });
try {
  await client.connect(transport());
  const results = await runCalls(client, spec.calls);
  console.log(JSON.stringify({ results }));
  await client.close();
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.message || error), code: error?.code ?? null }));
  process.exit(1);
}
