// The official TypeScript SDK's Client signing in with its OAuth client provider, as an MCP client that connects
// by URL alone does: on the 401 it discovers the server's metadata, registers itself, and sends the person to
// the authorization URL. The test plays the person: it reads {"authorize": url} from stdout, signs in and
// approves, and writes the code it was sent back to stdin.
//   node oauth_client.mjs '{"url": "...", "redirectUrl": "http://127.0.0.1:PORT/callback", "calls": [[tool, args], ...]}'
// Prints {"results": [...], "scope": "..."} at the end, or {"error": "..."}.
import readline from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { runCalls } from "./calls.mjs";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const spec = JSON.parse(process.argv[2]);
const stored = {};
const provider = {
  get redirectUrl() { return spec.redirectUrl; },
  get clientMetadata() {
    return { client_name: "TypeScript SDK test client", redirect_uris: [spec.redirectUrl],
             grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
             token_endpoint_auth_method: "none" };
  },
  clientInformation: () => stored.client,
  saveClientInformation: (client) => { stored.client = client; },
  tokens: () => stored.tokens,
  saveTokens: (tokens) => { stored.tokens = tokens; },
  redirectToAuthorization: (url) => { console.log(JSON.stringify({ authorize: url.toString() })); },
  saveCodeVerifier: (verifier) => { stored.verifier = verifier; },
  codeVerifier: () => stored.verifier,
};
const lines = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));
const transport = () => new StreamableHTTPClientTransport(new URL(spec.url), { authProvider: provider });

try {
  let client = new Client({ name: "openmemory-tests-ts-oauth", version: "1.0.0" });
  const first = transport();
  try {
    await client.connect(first);
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    await first.finishAuth((await nextLine()).trim());
    client = new Client({ name: "openmemory-tests-ts-oauth", version: "1.0.0" });
    await client.connect(transport());
  }
  const results = await runCalls(client, spec.calls);
  console.log(JSON.stringify({ results, scope: stored.tokens?.scope, refresh: Boolean(stored.tokens?.refresh_token) }));
  await client.close();
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.message || error) }));
  process.exit(1);
}
