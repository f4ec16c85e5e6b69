// Drives mem0's own npm client (mem0ai's MemoryClient) against a live server, as the apps built on it do.
//   MEM0_TELEMETRY=false node mem0_client.mjs '{"host": "http://127.0.0.1:<port>/mem0", "apiKey": "om_..."}'
// Prints one JSON object: what each call answered, or {"error": "..."}.
import MemoryClient from "mem0ai";

const spec = JSON.parse(process.argv[2]);
const client = new MemoryClient({ apiKey: spec.apiKey, host: spec.host });
try {
  const added = await client.add([{ role: "user", content: "My favourite tea is genmaicha" }],
    { user_id: spec.userId, agent_id: "barista", metadata: { source: "npm" } });
  const id = added.results[0].id;
  const found = await client.search("which tea do I like?", { filters: { user_id: spec.userId }, top_k: 3 });
  const got = await client.get(id);
  await client.update(id, { text: "My favourite tea is hojicha" });
  const history = await client.history(id);
  const all = await client.getAll({ filters: { agent_id: "barista" }, page: 1, pageSize: 10 });
  await client.delete(id);
  const left = await client.getAll({ filters: { user_id: spec.userId } });
  console.log(JSON.stringify({ added, found, got, history, all, left }));
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.message || error) }));
  process.exit(1);
}
